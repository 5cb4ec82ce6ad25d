// One `npm test` runs all three layers. Unit tests need no network; the global
// setup starts one real DynamoDB Local (in memory, free port) for the
// integration tests; e2e tests start the whole `npm start` stack themselves.
const transform = {
  '^.+\\.tsx?$': '<rootDir>/tests/helpers/esbuild-transform.js',
  // canonicalize (RFC 8785) ships only as an ES module.
  '^.+/node_modules/canonicalize/.+\\.js$': '<rootDir>/tests/helpers/esbuild-transform.js',
};
const transformIgnorePatterns = ['/node_modules/(?!canonicalize/)'];

// A developer's own stage file (config/dev.json, from `dynamo-history init`) must not change what the
// tests deploy or read: each test that wants one names it with DYNAMO_HISTORY_CONFIG. Workers inherit this.
process.env.DYNAMO_HISTORY_CONFIG ??= require('node:path').join(
  __dirname,
  '.dynamodb',
  'tests-have-no-stage-file.json',
);

/** @type {import('jest').Config} */
module.exports = {
  transform,
  globalSetup: '<rootDir>/tests/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/tests/helpers/global-teardown.ts',
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/tests/helpers/summary-reporter.js'],
  // testTimeout is global in Jest; e2e tests give their own longer timeouts.
  testTimeout: 60_000,
  projects: [
    {
      displayName: 'unit',
      testMatch: ['<rootDir>/tests/unit/**/*.test.ts'],
      transform,
      transformIgnorePatterns,
      testEnvironment: 'node',
    },
    {
      displayName: 'integration',
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts'],
      transform,
      transformIgnorePatterns,
      testEnvironment: 'node',
      slowTestThreshold: 30,
    },
    {
      displayName: 'simulation',
      testMatch: ['<rootDir>/tests/simulation/**/*.test.ts'],
      transform,
      transformIgnorePatterns,
      testEnvironment: 'node',
      slowTestThreshold: 60,
    },
    {
      displayName: 'e2e',
      testMatch: ['<rootDir>/tests/e2e/**/*.test.ts'],
      transform,
      transformIgnorePatterns,
      testEnvironment: 'node',
    },
  ],
};
