/**
 * The server side of bench/scim.ts, run as a child process (fork) so that its memory is its own and autocannon
 * (in the parent) does not share its event loop. Two modes (BENCH_SERVER_MODE):
 *   real: the production composition root (buildContainer + startService: SqlIdentityStore on the given
 *         file, bootstrap bearer token, audit, metrics) with no Airflow URL, so nothing is reconciled;
 *   bare: bench/lib/bare-baseline.ts, the Express-only ceiling.
 * Talks to the parent over IPC: {type:'ready', port} once listening; answers {type:'stats'} with its memory.
 */
import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import { loadConfig } from '../src/config/load';
import { buildContainer } from '../src/server/container';
import { startService } from '../src/server/serve';
import { bareApp } from './lib/bare-baseline';

export interface ServerStats {
  type: 'stats';
  rss: number;
  /** Highest RSS seen by sampling every 50 ms while serving. */
  sampledPeakRss: number;
  /** The same, since the previous stats request (i.e. during the last run). */
  peakSinceLast: number;
  /** The kernel's peak RSS of the whole process life (getrusage ru_maxrss), start-up included. */
  maxRss: number;
  heapUsed: number;
}

async function main(): Promise<void> {
  const mode = process.env.BENCH_SERVER_MODE ?? 'real';
  let server: http.Server;
  let stop: () => Promise<void>;
  if (mode === 'bare') {
    const app = bareApp(Number(process.env.BENCH_USERS ?? 100_000));
    server = await new Promise<http.Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    stop = () => new Promise((resolve) => server.close(() => resolve()));
  } else {
    const config = loadConfig({
      env: {},
      overrides: {
        server: { port: 0, metricsPort: 0, host: '127.0.0.1' },
        database: { path: required('BENCH_DB') },
        scim: { token: required('BENCH_TOKEN') },
        logging: { level: process.env.BENCH_LOG_LEVEL ?? 'info' },
      },
    });
    const svc = await startService(await buildContainer(config));
    server = svc.server;
    stop = svc.stop;
  }

  let peak = process.memoryUsage.rss();
  let peakSinceLast = peak;
  setInterval(() => {
    const rss = process.memoryUsage.rss();
    peak = Math.max(peak, rss);
    peakSinceLast = Math.max(peakSinceLast, rss);
  }, 50).unref();

  process.on('message', (m: { type: string }) => {
    if (m.type === 'stats') {
      const rss = process.memoryUsage.rss();
      const stats: ServerStats = {
        type: 'stats',
        rss,
        sampledPeakRss: Math.max(peak, rss),
        peakSinceLast: Math.max(peakSinceLast, rss),
        maxRss: process.resourceUsage().maxRSS * 1024,
        heapUsed: process.memoryUsage().heapUsed,
      };
      peakSinceLast = rss;
      process.send?.(stats);
    } else if (m.type === 'stop') {
      void stop().then(() => process.exit(0));
    }
  });
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
}

function required(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (scim-server.js is started by bench/scim.ts)`);
  return v;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
