// The console's only way to the data: the gateway's /graphql, with the caller's credential and a correlation id.
import { storedCredential } from './credential';
import { OPERATIONS, type OperationName } from './operations';

/** An error the graph answered, with what the API says about it (code, field, what would be accepted). */
export class GraphError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly field?: string,
    readonly expected?: string,
  ) {
    super(message);
  }
}

export async function graph<T = any>(name: OperationName, variables: Record<string, unknown> = {}): Promise<T> {
  const credential = storedCredential();
  const response = await fetch('/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'apollographql-client-name': 'finance-console',
      ...(credential ? { authorization: `Bearer ${credential}` } : {}),
    },
    body: JSON.stringify({ query: OPERATIONS[name], variables }),
  });
  const body = await response.json().catch(() => null);
  if (response.status === 401) throw new GraphError(body?.error ?? 'sign in again', 'UNAUTHENTICATED');
  const first = body?.errors?.[0];
  if (first) {
    const ext = first.extensions ?? {};
    throw new GraphError(first.message, ext.code ?? 'ERROR', ext.field, ext.expected);
  }
  if (!response.ok || !body?.data)
    throw new GraphError(body?.error ?? `HTTP ${response.status}`, body?.code ?? 'ERROR');
  return body.data as T;
}
