// What the launcher needs to run a secured system: the secret subgraphs sign with (generated once into the data
// folder, private), and API keys minted straight at the access subgraph for the demo, the tests and operators.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { newCorrelationId } from '../lib/correlation';
import { newInternalSecret, signedHeaders } from '../lib/internal-auth';
import { servicePrincipal, type Role } from '../lib/principal';

/** `<dataDir>/secrets/internal.key`: created 0600 in a 0700 folder on first start, reused afterwards. */
export function ensureInternalSecretFile(dataDir: string): string {
  const file = join(dataDir, 'secrets', 'internal.key');
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `${newInternalSecret()}\n`, { mode: 0o600, flag: 'wx' });
  }
  chmodSync(dirname(file), 0o700);
  chmodSync(file, 0o600);
  return file;
}

export const readSecret = (file: string): Buffer => Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');

export interface MintedKey {
  id: string;
  secret: string;
}

/** Creates an API key by asking the access subgraph directly, signed as the launcher (which holds the secret). */
export async function mintApiKey(
  accessUrl: string,
  secret: Buffer,
  input: { owner: string; description: string; roles: Role[]; scopes?: string[]; expiresAt?: Date },
): Promise<MintedKey> {
  const body = JSON.stringify({
    query: 'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } secret } }',
    variables: {
      i: {
        owner: input.owner,
        description: input.description,
        roles: input.roles.map((r) => r.toUpperCase().replace(/-/g, '_')),
        scopes: (input.scopes ?? []).map((s) => s.toUpperCase().replace(/-/g, '_')),
        expiresAt: input.expiresAt?.toISOString() ?? null,
      },
    },
  });
  const correlationId = newCorrelationId();
  const response = await fetch(accessUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-correlation-id': correlationId,
      ...signedHeaders({
        method: 'POST',
        url: accessUrl,
        body,
        principal: servicePrincipal('launcher'),
        correlationId,
        secret,
      }),
    },
    body,
  });
  const result = (await response.json()) as {
    data?: { createApiKey: { apiKey: { id: string }; secret: string } };
    errors?: Array<{ message: string }>;
  };
  if (!result.data) throw new Error(`could not create an API key: ${result.errors?.[0]?.message ?? response.status}`);
  return { id: result.data.createApiKey.apiKey.id, secret: result.data.createApiKey.secret };
}
