// A local OIDC issuer for the tests: its own key pair, its JWKS served over HTTP on a free port, and tokens signed
// with it — what a real identity provider does, so the gateway verifies real JWTs against a real JWKS endpoint.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestIssuer {
  issuer: string;
  jwksUrl: string;
  /** The private key as JWK (JSON), for test workers to sign their own tokens. */
  privateJwk: string;
  stop(): Promise<void>;
}

export const TEST_AUDIENCE = 'usagegraph-tests';

export async function startTestIssuer(): Promise<TestIssuer> {
  const { generateKeyPair, exportJWK } = await import('jose');
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256' };
  const server = http.createServer((req, res) => {
    if (req.url === '/.well-known/jwks.json') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [publicJwk] }));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    jwksUrl: `${issuer}/.well-known/jwks.json`,
    privateJwk: JSON.stringify(privateJwk),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A token from the test issuer (or, with `issuer` overridden, one the gateway must refuse). */
export async function signTestToken(
  claims: Record<string, unknown>,
  options: { issuer?: string; expiresIn?: string; audience?: string } = {},
): Promise<string> {
  const { SignJWT, importJWK } = await import('jose');
  const jwk = JSON.parse(process.env.USAGEGRAPH_TEST_OIDC_PRIVATE_JWK!) as Record<string, unknown>;
  const key = await importJWK(jwk, 'RS256');
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
    .setIssuer(options.issuer ?? process.env.USAGEGRAPH_TEST_OIDC_ISSUER!)
    .setAudience(options.audience ?? TEST_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '10m')
    .sign(key);
}
