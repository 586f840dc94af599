/**
 * `bench/reconcile.ts --replicas [N]`: SCIM deactivation → Airflow latency with the write on a follower and the
 * reconcile on the leader, N `airflow-scim serve` processes (dist/, default 2) on one PostgreSQL schema. The fake
 * Airflow (5 ms per call) and the SCIM client run in this process. PostgreSQL: BENCH_DATABASE_URL, else an
 * embedded server (test/support/postgres.ts) for the run. Each sample: PATCH active=false on a follower, then
 * wait until the fake has stripped the user's roles; the wake-up crosses processes by LISTEN/NOTIFY.
 *
 *   node dist/bench/reconcile.js --replicas 2    BENCH_USERS=2000 BENCH_SAMPLES=200 BENCH_LATENCY_MS=5
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import { SqlIdentityStore } from '../../src/store/sql/identity';
import { openPostgres, type PgDriver } from '../../src/store/sql/pg-driver';
import { freshSchema, startPostgres, type RunningPostgres } from '../../test/support/postgres';
import { freePort } from '../../test/support/free-port';
import { userData } from './dataset';
import { fmt, percentile, verdicts, type Verdict } from './report';

const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli', 'main.js');
const TOKEN = 'bench-replicas-scim-token-0123456789';
const ctx = { actor: 'bench' };

interface Replica {
  proc: ChildProcess;
  base: string;
  metricsPort: number;
  exited: Promise<unknown>;
}

async function startReplica(env: Record<string, string>, logFile: string): Promise<Replica> {
  const port = await freePort();
  const metricsPort = await freePort();
  const log = fs.openSync(logFile, 'a');
  const proc = spawn(process.execPath, [CLI, 'serve'], {
    env: { ...process.env, ...env, HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: String(metricsPort), LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
    stdio: ['ignore', log, log],
  });
  const exited = new Promise((r) => proc.once('exit', r));
  const base = `http://127.0.0.1:${port}`;
  for (const until = Date.now() + 30_000; ; ) {
    if (proc.exitCode !== null) throw new Error(`serve exited with ${proc.exitCode}; see ${logFile}`);
    if (Date.now() > until) throw new Error(`serve did not answer /healthz in 30 s; see ${logFile}`);
    if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) break;
    await sleep(50);
  }
  return { proc, base, metricsPort, exited };
}

async function isLeader(r: Replica): Promise<boolean> {
  const text = await fetch(`http://127.0.0.1:${r.metricsPort}/metrics`).then((x) => x.text(), () => '');
  return /^reconcile_leader 1/m.test(text);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 2): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (await cond()) return true;
    await sleep(stepMs);
  }
  if (what) throw new Error(`timed out waiting for ${what}`);
  return false;
}

export async function benchReplicas(argv: string[]): Promise<Verdict[]> {
  const n = Number(argv[argv.indexOf('--replicas') + 1]) || 2;
  const users = Number(process.env.BENCH_USERS ?? 2000);
  const samples = Number(process.env.BENCH_SAMPLES ?? 200);
  const latencyMs = Number(process.env.BENCH_LATENCY_MS ?? 5);
  console.log(`reconcile bench, replicas: ${n} serve processes on one PostgreSQL schema, ${users.toLocaleString()} users in one mapped group, fake Airflow with ${latencyMs} ms per call, ${samples} deactivations`);
  console.log(`machine: ${os.cpus().length} cores, node ${process.version}; the fake Airflow and the SCIM client in this process, each replica in its own\n`);

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reconcile-replicas-'));
  let pg: RunningPostgres | undefined;
  let db: PgDriver | undefined;
  let fake: FakeAirflow | undefined;
  let drop: (() => Promise<void>) | undefined;
  const replicas: Replica[] = [];
  try {
    const url = process.env.BENCH_DATABASE_URL ?? (pg = await startPostgres()).url;
    const schema = await freshSchema(url, { create: false });
    drop = schema.drop;
    fake = await startFakeAirflow({ version: 3 });
    const cfg = path.join(dir, 'config.yaml');
    fs.writeFileSync(cfg, ['roles:', '  mappings:', '    - group: eng', '      roles: [User]', 'safety:', '  maxDeprovisions: 100000', '  maxDeprovisionPercent: 100'].join('\n'));
    const env = {
      DATABASE_URL: url, DATABASE_SCHEMA: schema.schema, AIRFLOW_SCIM_CONFIG: cfg, AIRFLOW_URL: fake.url, AIRFLOW_API_VERSION: '3',
      AIRFLOW_USERNAME: 'admin', AIRFLOW_PASSWORD: 'admin', SCIM_TOKEN: TOKEN,
    };
    replicas.push(...(await Promise.all(Array.from({ length: n }, (_, i) => startReplica(env, path.join(dir, `replica-${i}.log`))))));

    // Load: straight into the schema (set-up, not measured), then wait for the leader to create every account.
    const t = performance.now();
    db = await openPostgres(url, { schema: schema.schema, poolSize: 8 });
    const store = new SqlIdentityStore(db);
    const ids: string[] = new Array<string>(users);
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let i = next++; i < users; i = next++) ids[i] = (await store.createUser(userData(i), ctx)).id;
    }));
    await store.createGroup({ displayName: 'eng' }, ids, ctx);
    await until('every account in Airflow', () => fake!.state.users.size > users, 600_000, 100);
    fake.faults.latencyMs = latencyMs;
    process.stdout.write(`loaded and reconciled ${users.toLocaleString()} users in ${((performance.now() - t) / 1000).toFixed(1)} s;`);

    const flags = await Promise.all(replicas.map(isLeader));
    if (flags.filter(Boolean).length !== 1) throw new Error(`expected one leader, got reconcile_leader ${JSON.stringify(flags.map(Number))}`);
    const leader = flags.indexOf(true);
    const follower = replicas[(leader + 1) % n];
    await sleep(1000); // the run that created everything has ended

    process.stdout.write(' samples');
    const lat: number[] = [];
    let timeouts = 0;
    for (let i = 0; i < Math.min(samples, users); i++) {
      const u = fake.state.getUser(`user${i}`);
      if (!u) throw new Error(`user${i} is not in Airflow`);
      const t0 = performance.now();
      const r = await fetch(`${follower.base}/scim/v2/Users/${ids[i]}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] }),
      });
      if (!r.ok) throw new Error(`PATCH answered ${r.status}: ${await r.text()}`);
      if (await until('', () => u.roles.length === 0, 10_000)) lat.push(performance.now() - t0);
      else timeouts++;
      if ((lat.length + timeouts) % 20 === 0) process.stdout.write(` ${lat.length + timeouts}`);
    }
    lat.sort((a, b) => a - b);
    const p50 = percentile(lat, 50);
    const p99 = percentile(lat, 99);
    console.log(`\n\ndeactivation on a follower → Airflow through the leader (${lat.length} samples, ${timeouts} timeouts): p50 ${fmt(p50)} ms, p99 ${fmt(p99)} ms, max ${fmt(lat[lat.length - 1] ?? NaN)} ms`);
    console.log('(each sample = the SCIM PATCH on the follower, its NOTIFY at commit, the leader\'s debounce, and one change-triggered run)\n');
    const list: Verdict[] = [{ target: `${n} replicas: deactivation on a follower → Airflow p99 < 1 s`, measured: `${fmt(p99)} ms (${timeouts} timeouts)`, pass: p99 < 1000 && timeouts === 0 }];
    console.log(verdicts(list));
    console.log('\n' + JSON.stringify({ bench: 'reconcile-replicas', at: new Date().toISOString(), cores: os.cpus().length, node: process.version, replicas: n, users, samples: lat.length, timeouts, latencyMs, p50, p99, max: lat[lat.length - 1], targets: list }));
    return list;
  } finally {
    for (const r of replicas) {
      r.proc.kill('SIGTERM');
      setTimeout(() => r.proc.kill('SIGKILL'), 10_000).unref();
    }
    await Promise.all(replicas.map((r) => r.exited));
    await db?.close();
    await drop?.();
    await fake?.close();
    await pg?.stop();
    if (process.env.BENCH_KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true });
  }
}
