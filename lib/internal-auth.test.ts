import { randomBytes } from 'node:crypto';
import { servicePrincipal } from './principal';

process.env.USAGEGRAPH_INTERNAL_SECRET = randomBytes(32).toString('hex');
const { signedHeaders, verifySignedRequest, PRINCIPAL_HEADER, TIMESTAMP_HEADER } =
  require('./internal-auth') as typeof import('./internal-auth');

const url = 'http://127.0.0.1:4001/graphql?x=1';
const body = JSON.stringify({ query: '{ __typename }' });
const principal = {
  subject: 'key:key_1',
  name: 'ana',
  roles: ['finance' as const],
  scopes: [],
  via: 'api-key' as const,
};
const signed = (
  overrides: {
    body?: string;
    path?: string;
    correlationId?: string;
    now?: number;
    headers?: Record<string, string>;
  } = {},
) => {
  const headers = {
    ...signedHeaders({ method: 'POST', url, body, principal, correlationId: 'c-1' }),
    ...overrides.headers,
  };
  return verifySignedRequest({
    method: 'POST',
    path: overrides.path ?? '/graphql?x=1',
    headers,
    body: overrides.body ?? body,
    correlationId: overrides.correlationId ?? 'c-1',
    now: overrides.now,
  });
};

it('trusts the principal of a request signed over exactly what arrived', () => {
  expect(signed()).toEqual({ ok: true, principal });
});

it('refuses a changed body, path, correlation id or principal, and a stale timestamp', () => {
  expect(signed({ body: `${body} ` }).ok).toBe(false);
  expect(signed({ path: '/graphql' }).ok).toBe(false);
  expect(signed({ correlationId: 'c-2' }).ok).toBe(false);
  const other = signedHeaders({ method: 'POST', url, body, principal: servicePrincipal('x'), correlationId: 'c-1' });
  expect(signed({ headers: { [PRINCIPAL_HEADER]: other[PRINCIPAL_HEADER]! } }).ok).toBe(false);
  expect(signed({ now: Date.now() + 6 * 60_000 })).toEqual({ ok: false, reason: expect.stringMatching(/expired/) });
  expect(signed({ headers: { [TIMESTAMP_HEADER]: String(Date.now() - 1) } }).ok).toBe(false);
});

it('refuses a request with no signature at all', () => {
  expect(verifySignedRequest({ method: 'POST', path: '/graphql', headers: {}, body, correlationId: 'c' })).toEqual({
    ok: false,
    reason: expect.stringMatching(/only answers requests signed/),
  });
});
