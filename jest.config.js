/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The real-Airflow suite has its own config and command (npm run test:airflow): it needs Python.
  testPathIgnorePatterns: ['/node_modules/', '/test/real-airflow/'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  testTimeout: 30000,
};
