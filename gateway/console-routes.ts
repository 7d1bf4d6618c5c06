// The finance console and the GraphQL explorer as static files (built by console/build.ts). They carry no credential
// of their own: each page asks the person for theirs and sends it to /graphql like any other client.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';
import { consoleBuildDir } from '../console/build';
import type { Logger } from '../lib/logger';

/** Scripts, styles and data only from this gateway; no framing, no inline script. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export function consoleRoutes(log: Logger): express.Router {
  const dir = consoleBuildDir();
  const router = express.Router();
  const built = () => existsSync(join(dir, 'index.html'));
  if (!built()) log.warn({ dir }, 'the console is not built: npm start and npm test build it');
  router.use(['/console', '/explorer'], (_req, res, next) => {
    res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    if (built()) return next();
    res
      .status(503)
      .type('text/plain')
      .send(
        'The finance console is not built yet: `npm start` builds it (or run the console build in console/build.ts).',
      );
  });
  // Files are sent relative to the build folder (`root`): its own path is in ~/.cache, which `send` would refuse as a
  // dotfile path. Hashed asset names never change, so they are cached for good; the pages themselves are always checked.
  router.use(
    '/console/assets',
    express.static(join(dir, 'assets'), { immutable: true, maxAge: '365d', index: false, fallthrough: false }),
  );
  router.get(['/console', '/console/', '/console/index.html'], (_req, res) =>
    res.setHeader('cache-control', 'no-cache').sendFile('index.html', { root: dir }),
  );
  router.get(['/explorer', '/console/explorer.html'], (_req, res) =>
    res.setHeader('cache-control', 'no-cache').sendFile('explorer.html', { root: dir }),
  );
  // The old triage page's address, and a browser opening the API itself, lead to the pages.
  router.get('/finance', (_req, res) => res.redirect(302, '/console/#/queue'));
  router.get('/graphql', (req, res, next) =>
    req.accepts(['application/json', 'text/html']) === 'text/html' && !req.query.query
      ? res.redirect(302, '/explorer')
      : next(),
  );
  return router;
}
