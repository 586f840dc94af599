/** The real-Airflow suite (npm run test:airflow): test/real-airflow/*.real.test.ts, one server per target, run in band. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/real-airflow'],
  testMatch: ['**/*.real.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  globalSetup: '<rootDir>/test/real-airflow/global-setup.ts',
  globalTeardown: '<rootDir>/test/real-airflow/global-teardown.ts',
  testTimeout: 300000,
  maxWorkers: 1,
  // Prints each server's log tail when a test failed (the homes are removed by the global teardown).
  reporters: ['default', '<rootDir>/test/real-airflow/log-reporter.js'],
};
