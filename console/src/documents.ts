// Invoice and note documents (PDF, HTML) are served by the gateway to authenticated callers only: the console fetches
// them with the signed-in credential and opens what it got, so a document never needs a link that works without one.
import { storedCredential } from './credential';

/** Opens a gateway document path in a new tab, fetched with the caller's credential. */
export async function openDocument(path: string): Promise<void> {
  // Opened before the fetch, while the click still counts as the user's: a window opened later would be blocked.
  const tab = window.open('', '_blank');
  const credential = storedCredential();
  const response = await fetch(path, { headers: credential ? { authorization: `Bearer ${credential}` } : {} });
  if (!response.ok) {
    tab?.close();
    throw new Error(`the document could not be opened (HTTP ${response.status})`);
  }
  const url = URL.createObjectURL(await response.blob());
  if (tab) tab.location.href = url;
  else window.location.href = url;
}
