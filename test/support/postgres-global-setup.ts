/** Starts one PostgreSQL for the whole jest run and hands its URL to the test files as TEST_DATABASE_URL. */
import { startPostgres } from './postgres';

export const SERVER_KEY = '__airflowScimPostgres';

export default async function globalSetup(): Promise<void> {
  if (process.env['TEST_DATABASE_URL']) return; // a server chosen from outside: use it, start nothing
  const server = await startPostgres();
  process.env['TEST_DATABASE_URL'] = server.url;
  // The global teardown runs in this same process and reads it back from here (jest's documented channel).
  (globalThis as Record<string, unknown>)[SERVER_KEY] = server;
  if (process.env['TEST_POSTGRES_VERBOSE'] === '1') {
    console.log(`\nembedded PostgreSQL ready in ${server.startupMs} ms${server.copiedBinaries ? ' (binaries copied out of node_modules for the postgres user)' : ''}`);
  }
}
