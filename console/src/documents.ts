// Invoice and note documents (PDF, HTML) are served by the gateway to authenticated callers only: the console fetches
// them with the signed-in credential and hands the file to the browser, so no link ever works without a credential.
import { storedCredential } from './credential';

/** Fetches a gateway document path with the caller's credential and saves it under its own file name. */
export async function downloadDocument(path: string): Promise<void> {
  const credential = storedCredential();
  const response = await fetch(path, { headers: credential ? { authorization: `Bearer ${credential}` } : {} });
  if (!response.ok) throw new Error(`the document could not be fetched (HTTP ${response.status})`);
  const url = URL.createObjectURL(await response.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = path.split('/').pop() ?? 'document';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
