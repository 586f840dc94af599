/**
 * The long fuzz run of issue 11 (`npm run fuzz -- --cases 100000`): the real server in a child process on a
 * throw-away database, the seeded generator of test/fuzz/generator.ts, then an attacker sending bad tokens at 10/s
 * from the IdP's address while the IdP keeps working. Prints the figures; exits 1 on any 5xx, non-SCIM error,
 * unanswered request or failed IdP request.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { runFuzz } from './driver';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const CASES = arg('cases', 100_000);
const SEED = arg('seed', 11);
const CONCURRENCY = arg('concurrency', 4);
const ATTACK_SECONDS = arg('attack-seconds', 20);
const TOKEN = 'fuzz-run-bootstrap-token-0000000001';
const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');

/** Resident set now and its peak (VmHWM), in MiB, from /proc (Linux). */
function rss(pid: number): { now: number; peak: number } {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
  return { now: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scim-fuzz-'));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, [CLI, 'serve'], {
    env: { ...process.env, LOG_LEVEL: 'error', HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: String(port + 1), DATABASE_PATH: path.join(dir, 'scim.db'), SCIM_TOKEN: TOKEN },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + String(d)).slice(-20_000)));
  const root = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if ((await fetch(`${root}/healthz`).then((r) => r.ok).catch(() => false)) === true) break;
    if (i > 200 || child.exitCode !== null) throw new Error(`server did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const startRss = rss(child.pid!).now;

  // Liveness probe beside the fuzzing (its answer also waits for requests queued before it), and the server's own
  // longest event-loop delay: prom-client's max, which each scrape resets.
  let slowestHealthz = 0;
  let longestStall = 0;
  let probing = true;
  const probe = (async () => {
    for (let i = 0; probing; i++) {
      const t0 = performance.now();
      await fetch(`${root}/healthz`).then((r) => r.arrayBuffer()).catch(() => undefined);
      slowestHealthz = Math.max(slowestHealthz, performance.now() - t0);
      if (i % 20 === 0) {
        const text = await fetch(`http://127.0.0.1:${port + 1}/metrics`).then((r) => r.text()).catch(() => '');
        longestStall = Math.max(longestStall, Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)?.[1] ?? 0) * 1000);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();

  const started = Date.now();
  const stats = await runFuzz({
    base: `${root}/scim/v2`,
    token: TOKEN,
    seed: SEED,
    cases: CASES,
    concurrency: CONCURRENCY,
    onProgress: (sent, s) => {
      if (sent % 10_000 === 0) console.log(`  ${sent} sent, ${s.serverErrors} 5xx, RSS ${rss(child.pid!).now.toFixed(0)} MiB`);
    },
  });
  const seconds = (Date.now() - started) / 1000;

  // The lock-out attack: bad tokens at 10/s from the IdP's own address, the IdP at 10/s with its valid token.
  let idpSent = 0;
  let idpFailed = 0;
  let attackSent = 0;
  const until = Date.now() + ATTACK_SECONDS * 1000;
  const attacker = (async () => {
    while (Date.now() < until) {
      attackSent++;
      await fetch(`${root}/scim/v2/Users`, { headers: { Authorization: 'Bearer stolen-or-guessed' } }).then((r) => r.arrayBuffer()).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const idp = (async () => {
    while (Date.now() < until) {
      idpSent++;
      const ok = await fetch(`${root}/scim/v2/Users?filter=${encodeURIComponent('userName eq "nobody@example.com"')}`, { headers: { Authorization: `Bearer ${TOKEN}` } })
        .then((r) => r.arrayBuffer().then(() => r.status === 200))
        .catch(() => false);
      if (!ok) idpFailed++;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await Promise.all([attacker, idp]);
  probing = false;
  await probe;

  const mem = rss(child.pid!);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  fs.rmSync(dir, { recursive: true, force: true });

  console.log(`fuzz: ${stats.sent} requests in ${seconds.toFixed(0)} s (seed ${SEED}, concurrency ${CONCURRENCY})`);
  console.log(`  statuses: ${Object.entries(stats.byStatus).map(([k, v]) => `${k}=${v}`).join(' ')}`);
  console.log(`  5xx seen: ${stats.serverErrors}; non-SCIM errors: ${stats.nonScimErrors}; unanswered: ${stats.noAnswer}`);
  console.log(`  server RSS: ${startRss.toFixed(0)} MiB at start, ${mem.now.toFixed(0)} MiB at end, peak ${mem.peak.toFixed(0)} MiB`);
  console.log(`  slowest /healthz during the run: ${slowestHealthz.toFixed(0)} ms; longest event-loop delay: ${longestStall.toFixed(0)} ms`);
  console.log(`attack: ${attackSent} bad-token requests at 10/s from the IdP's address; IdP requests failed: ${idpFailed} of ${idpSent}`);
  for (const s of stats.slowest) console.log(`  slow: ${s.ms} ms ${s.request}`);
  for (const s of stats.samples) console.log(`  sample: ${s}`);
  const failed = stats.serverErrors + stats.nonScimErrors + stats.noAnswer + idpFailed;
  console.log(failed ? 'FAIL' : 'PASS');
  process.exitCode = failed ? 1 : 0;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
