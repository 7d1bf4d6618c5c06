// ESLint (flat config): JavaScript's and typescript-eslint's recommended rules; Prettier owns the layout.
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const globals = require('globals');

module.exports = tseslint.config(
  // Generated resolver types (npm run codegen) are type-checked, not linted.
  { ignores: ['node_modules/**', 'data/**', 'schema/**', 'console/dist/**', 'dist/**', 'subgraphs/*/generated/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // Test code, benchmarks and the small GraphQL client they share read untyped JSON responses.
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts', 'runtime/graph-client.ts', 'scripts/demo-data.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    // The console runs in the browser and reads the graph's JSON answers, typed by the operations it sends.
    files: ['console/src/**/*.{ts,tsx}'],
    languageOptions: { globals: globals.browser },
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
