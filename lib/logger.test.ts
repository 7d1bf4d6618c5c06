import { Writable } from 'node:stream';
import pino from 'pino';
import { formatErrorForClients, LOGGED_ERRORS_PER_RESPONSE } from './format-error';
import { REDACTED_PATHS, excerpt, safeError } from './logger';
import { withCorrelationId } from './correlation';
import { GraphQLError } from 'graphql';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  const log = pino(
    { redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, serializers: { err: safeError } },
    stream,
  );
  return { log, lines };
}

describe('log lines', () => {
  it('keep an excerpt of an error message, a relative stack and none of its extra fields', () => {
    const error = Object.assign(new Error(`duplicate key: ${'PAYLOAD-'.repeat(100)}`), {
      code: 11000,
      op: { data: { secret: 'PAYLOAD' } },
    });
    const shown = safeError(error) as Record<string, unknown>;
    expect(shown.message).toMatch(/\[excerpt: 160 of 815 characters\]$/);
    expect(shown.code).toBe(11000);
    expect(JSON.stringify(shown)).not.toContain('"op"');
    expect(shown.stack).not.toContain(process.cwd());
    expect(shown.stack).not.toContain('PAYLOAD');
    expect(excerpt('short')).toBe('short');
    const missing = safeError(new Error(`ENOENT: no such file, open '${process.cwd()}/data/x.json'`)) as Record<
      string,
      unknown
    >;
    expect(missing.message).toBe("ENOENT: no such file, open 'data/x.json'");
  });

  it('redact credentials and payloads at known paths', async () => {
    const { log, lines } = capture();
    log.info(
      { headers: { authorization: 'Bearer s3cr3t', 'x-api-key': 'k3y' }, apiKey: 'k3y', payload: { x: 1 }, ok: 'yes' },
      'request',
    );
    await new Promise((r) => setImmediate(r));
    expect(lines[0]).not.toMatch(/s3cr3t|k3y|"x":1/);
    expect(lines[0]).toContain('"ok":"yes"');
  });

  it('log a handful of unexpected errors per response, then one line with the count', async () => {
    const { log, lines } = capture();
    const format = formatErrorForClients(log as never);
    withCorrelationId('cor-many', () => {
      for (let i = 0; i < 10_000; i++) format({ message: 'boom', path: ['list', i] }, new Error('boom'));
    });
    format({ message: 'ok', extensions: { code: 'VALIDATION_FAILED' } }, new GraphQLError('ok'));
    await new Promise((r) => setTimeout(r, 20));
    expect(lines).toHaveLength(LOGGED_ERRORS_PER_RESPONSE + 1);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ unexpectedErrors: 10_000 });
  });

  it('count the failed reads of a cancelled request as warnings, not as unexpected errors', async () => {
    const { log, lines } = capture();
    const format = formatErrorForClients(log as never);
    const gone = new DOMException('the caller went away', 'AbortError');
    const formatted = withCorrelationId('cor-gone', () =>
      Array.from({ length: 400 }, (_, i) => format({ message: 'x', path: ['list', i] }, gone)),
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(formatted[399].extensions).toMatchObject({ code: 'REQUEST_CANCELLED', retryable: true });
    expect(lines).toHaveLength(LOGGED_ERRORS_PER_RESPONSE + 1);
    expect(lines.map((l) => JSON.parse(l).level)).toEqual([40, 40, 40, 40]);
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ failures: 400, logged: LOGGED_ERRORS_PER_RESPONSE });
    expect(lines.join('\n')).not.toContain('unexpectedErrors');
  });
});
