/** @type {import('jest').Config} */
const shared = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  setupFiles: ['<rootDir>/tests/setup-env.ts'],
  // The emulator's Python venv (scripts/python-env.ts): thousands of files jest has no use for.
  modulePathIgnorePatterns: ['<rootDir>/.venv/'],
};

module.exports = {
  testTimeout: 60000,
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/tests/unit/**/*.test.ts'] },
    {
      ...shared,
      displayName: 'emulator',
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts', '<rootDir>/tests/template/**/*.test.ts'],
      // One moto server for all emulator suites, started before and stopped after the run.
      globalSetup: '<rootDir>/tests/global-setup.ts',
      globalTeardown: '<rootDir>/tests/global-teardown.ts',
    },
  ],
};
