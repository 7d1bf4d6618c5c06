// The caller's own credential (an API key or an OIDC token), kept for this browser tab only: the console has no
// access of its own, so everything it shows or does is what this credential may see or do.
const KEY = 'usagegraph.credential';

export function storedCredential(): string | null {
  return sessionStorage.getItem(KEY);
}

export function storeCredential(credential: string | null): void {
  if (credential) sessionStorage.setItem(KEY, credential.trim());
  else sessionStorage.removeItem(KEY);
}
