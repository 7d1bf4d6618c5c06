// Vite's configuration for the console (Preact, JSX) and the explorer (React, for GraphiQL; written without JSX).
import { join } from 'node:path';

const root = import.meta.dirname;

export default {
  root,
  base: '/console/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    assetsDir: 'assets',
    reportCompressedSize: false,
    chunkSizeWarningLimit: 4000,
    rollupOptions: { input: { index: join(root, 'index.html'), explorer: join(root, 'explorer.html') } },
  },
};
