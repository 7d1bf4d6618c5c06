// Two projects: `unit` (pure code, beside it as *.test.ts) and `e2e` (test/, against the real system its global setup starts).
// `npx jest --selectProjects unit` runs the fast ones alone.
const transform = {
  '^.+\\.ts$': [
    '@swc/jest',
    { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
  ],
  // jose and auto-bind (graphql-codegen's) ship only ES modules, which Jest cannot require on Node 20: compile them to
  // CommonJS for the tests.
  '/node_modules/(jose|auto-bind)/.+\\.js$': ['@swc/jest', { jsc: { target: 'es2022' }, module: { type: 'commonjs' } }],
};
// Everything in node_modules is used as is, except jose and auto-bind (above).
const transformIgnorePatterns = ['/node_modules/(?!(jose|auto-bind)/)'];

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform,
      transformIgnorePatterns,
      testMatch: ['<rootDir>/{lib,gateway,subgraphs,runtime,scripts,contracts,console}/**/*.test.ts'],
      modulePathIgnorePatterns: ['<rootDir>/data/'],
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      transform,
      transformIgnorePatterns,
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      modulePathIgnorePatterns: ['<rootDir>/data/'],
      globalSetup: '<rootDir>/test/global-setup.ts',
      setupFilesAfterEnv: ['<rootDir>/test/ledger-check.ts'],
      globalTeardown: '<rootDir>/test/global-teardown.ts',
    },
  ],
  testTimeout: 60_000,
};
