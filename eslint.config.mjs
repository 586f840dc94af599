// Lint: our layering (STYLE.md) as import rules a machine checks, plus typescript-eslint's recommended checks, plus
// the two promise rules (type-aware): the store seams are asynchronous, so a call not awaited is a lost write or error.
// Layers, lowest first: core → logger, config → store, airflow → scim, reconcile → metrics, server → cli.
// A folder may import its own layer and the layers below; the fake Airflow (dev/, a development tool) only core.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (files, forbidden, why) => ({
  files,
  rules: {
    'no-restricted-imports': ['error', {
      patterns: forbidden.map((group) => ({ group: [group], message: why })),
    }],
  },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tools/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Type information from tsconfig.json, which includes src, test, bench and dev.
    files: ['src/**/*.ts', 'dev/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  layer(['src/core/**'], ['**/store/**', '**/airflow/**', '**/scim/**', '**/reconcile/**', '**/server/**', '**/cli/**', '**/config/**', '**/logger', '**/metrics', '**/dev/**'],
    'core is the bottom layer: it imports nothing of ours'),
  layer(['src/logger.ts', 'src/config/**'], ['**/store/**', '**/airflow/**', '**/scim/**', '**/reconcile/**', '**/server/**', '**/cli/**', '**/metrics', '**/dev/**'],
    'logger and config sit above core only'),
  layer(['src/store/**'], ['**/airflow/**', '**/scim/**', '**/reconcile/**', '**/server/**', '**/cli/**', '**/metrics', '**/dev/**'],
    'the identity store is a seam: it knows nothing of Airflow, SCIM or the reconciler'),
  layer(['src/airflow/**'], ['**/store/**', '**/scim/**', '**/reconcile/**', '**/server/**', '**/cli/**', '**/metrics', '**/dev/**'],
    'the Airflow client is a seam: it knows nothing of the store, SCIM or the reconciler'),
  layer(['src/scim/**'], ['**/airflow/**', '**/reconcile/**', '**/server/**', '**/cli/**', '**/dev/**'],
    'the SCIM layer talks to the store, never to Airflow or the reconciler'),
  layer(['src/reconcile/**'], ['**/scim/**', '**/server/**', '**/cli/**', '**/dev/**'],
    'the reconciler sits below the server and the CLI'),
  layer(['src/server/**', 'src/metrics.ts'], ['**/cli/**', '**/dev/**'],
    'the server does not import the CLI or the fake Airflow'),
  layer(['dev/fake-airflow/**'], ['**/store/**', '**/airflow/**', '**/scim/**', '**/reconcile/**', '**/server/**', '**/cli/**', '**/config/**'],
    'the fake Airflow is a copy of Airflow, checked against the real one: it shares no code with our client'),
  {
    // Production code never loads development tools (they are not in the image); the demo loads the fake lazily.
    files: ['src/**'],
    ignores: ['src/cli/demo.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/dev/**'], message: 'dev/ is not in the container image' }] }] },
  },
);
