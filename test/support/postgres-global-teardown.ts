/** Stops the PostgreSQL that the global set-up started, if it started one. */
import { SERVER_KEY } from './postgres-global-setup';
import type { RunningPostgres } from './postgres';

export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as Record<string, unknown>)[SERVER_KEY] as RunningPostgres | undefined;
  await server?.stop();
}
