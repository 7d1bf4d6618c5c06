// Reads a PDF's text back with Mozilla's PDF.js (what a browser shows): `node test/pdf-text.mjs < file.pdf`.
// An ES module run in its own process, because PDF.js ships only as one and Jest runs the tests as CommonJS.
import { fileURLToPath } from 'node:url';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';

// The standard fonts' metrics, so PDF.js reads Helvetica without guessing.
const standardFontDataUrl = fileURLToPath(new URL('../node_modules/pdfjs-dist/standard_fonts/', import.meta.url));

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const pdf = await getDocument({
  data: new Uint8Array(Buffer.concat(chunks)),
  useSystemFonts: false,
  standardFontDataUrl,
}).promise;
const pages = [];
for (let n = 1; n <= pdf.numPages; n++) {
  const content = await (await pdf.getPage(n)).getTextContent();
  // One line per text run that ends a line, as PDF.js reports it.
  pages.push(content.items.map((item) => ('str' in item ? item.str + (item.hasEOL ? '\n' : '') : '')).join(''));
}
const { info } = await pdf.getMetadata();
process.stdout.write(JSON.stringify({ pages: pdf.numPages, text: pages.join('\n'), title: info?.Title ?? null }));
