import type { RunReport } from '../src/reconcile/types';
/**
 * Reconciler benchmark: 10,000 managed users in 50 groups (mapped to three roles) in a SQLite store, the fake Airflow
 * (2.x and 3.x) with 5 ms added to every call, all in this one process (the figures are call counts and wall times,
 * not a load test). Phases: first run, no-op run, 1% churn, SCIM deactivation → Airflow latency. See bench/README.md.
 *
 *   npm run bench:reconcile    BENCH_USERS=10000 BENCH_GROUPS=50 BENCH_LATENCY_MS=5 BENCH_SAMPLES=50
 *   BENCH_AIRFLOW_VERSIONS=2,3 BENCH_STRICT=1 (exit 1 when a target fails)
 *   npm run bench:reconcile -- --replicas 2    several serve processes on PostgreSQL instead (lib/replicas.ts)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAirflowClient } from '../src/airflow/detect';
import { parseConfig } from '../src/config/load';
import { systemClock } from '../src/core/clock';
import { startFakeAirflow, type FakeAirflow } from '../dev/fake-airflow/fake-airflow';
import { silentLogger } from '../src/logger';
import { Reconciler } from '../src/reconcile/reconciler';
import { SqlReconcileState } from '../src/store/sql/reconcile-state';
import { ReconcileLoop } from '../src/reconcile/trigger';
import { openDatabase } from '../src/store/database';
import { SqlAuditLog } from '../src/store/sql/audit';
import { SqlIdentityStore } from '../src/store/sql/identity';
import type { UserData } from '../src/store/types';
import { unsynced, userData } from './lib/dataset';
import { exitCode, fmt, percentile, table, verdicts, type Verdict } from './lib/report';
import { sqliteDriverFor } from '../src/store/sql/sqlite-driver';
import { benchReplicas } from './lib/replicas';

const USERS = Number(process.env.BENCH_USERS ?? 10_000);
const GROUPS = Number(process.env.BENCH_GROUPS ?? 50);
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 5);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 50);
const VERSIONS = (process.env.BENCH_AIRFLOW_VERSIONS ?? '2,3').split(',').map((v) => Number(v.trim()) as 2 | 3);
const ctx = { actor: 'bench' };
const DEBOUNCE_MS = parseConfig({}).reconcile.debounce;

/** team-00 … team-49; teams 0-19 → Viewer, 20-39 → User, 40-49 → Op. */
const groupName = (k: number) => `team-${String(k).padStart(2, '0')}`;
const MAPPINGS = [
  { groupPattern: 'team-[01]?', roles: ['Viewer'] },
  { groupPattern: 'team-[23]?', roles: ['User'] },
  { groupPattern: 'team-4?', roles: ['Op'] },
];

interface Calls {
  total: number;
  reads: number;
  writes: number;
  auth: number;
  byCall: Record<string, number>;
}

function calls(fake: FakeAirflow): Calls {
  const byCall = Object.fromEntries([...fake.faults.calls.entries()].sort());
  let reads = 0;
  let writes = 0;
  let auth = 0;
  for (const [call, n] of fake.faults.calls) {
    if (call.startsWith('POST /auth/token')) auth += n;
    else if (call.startsWith('GET ')) reads += n;
    else writes += n;
  }
  return { total: reads + writes + auth, reads, writes, auth, byCall };
}

interface VersionFigures {
  version: 2 | 3;
  loadSeconds: number;
  first: { seconds: number; result: string; calls: Calls; airflowUsers: number };
  noop: { seconds: number; result: string; calls: Calls; minimum: number; ratio: number };
  churn: { seconds: number; result: string; changes: Record<string, number>; calls: Calls; ratio: number };
  latency: { samples: number; p50: number; p99: number; max: number; mean: number; timeouts: number };
}

async function benchVersion(version: 2 | 3): Promise<VersionFigures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reconcile-bench-'));
  const fake = await startFakeAirflow({ version });
  const db = openDatabase(path.join(dir, 'bench.db'));
  const audit = new SqlAuditLog(sqliteDriverFor(db));
  const store = new SqlIdentityStore(sqliteDriverFor(db));
  const state = new SqlReconcileState<RunReport>(sqliteDriverFor(db));
  const logger = silentLogger();
  const config = parseConfig({
    airflow: { url: fake.url, apiVersion: String(version), apiUser: fake.admin.username, apiPassword: fake.admin.password },
    roles: { mappings: MAPPINGS },
    // Generous limits: the churn and latency phases deprovision ~70 users; safety is not what this measures.
    safety: { maxDeprovisions: 100_000, maxDeprovisionPercent: 100 },
    logging: { level: 'warn' },
  });
  const reconciler = new Reconciler({ store, airflow: createAirflowClient(config.airflow, logger), state, audit, config, clock: systemClock, logger });

  // Load through the store (10k is small), one write at a time, with synchronous off: set-up, not what is measured.
  const t = Date.now();
  const ids: string[] = [];
  const groupIds: string[] = [];
  await unsynced(db, async () => {
    for (let i = 0; i < USERS; i++) ids.push((await store.createUser(userData(i), ctx)).id);
    for (let k = 0; k < GROUPS; k++) {
      groupIds.push((await store.createGroup({ displayName: groupName(k) }, ids.filter((_, i) => i % GROUPS === k), ctx)).id);
    }
  });
  const loadSeconds = (Date.now() - t) / 1000;
  fake.faults.latencyMs = LATENCY_MS;

  const run = async () => {
    fake.faults.calls.clear();
    const t0 = performance.now();
    const report = await reconciler.runOnce({ trigger: 'cli' });
    return { seconds: (performance.now() - t0) / 1000, result: report.result, calls: calls(fake), report };
  };

  const progress = (what: string) => process.stdout.write(` ${what}`);
  progress(`loaded ${loadSeconds.toFixed(1)} s;`);

  // 1. First run: creates everything.
  const first = await run();
  progress(`first run ${first.seconds.toFixed(1)} s;`);
  const airflowUsers = fake.state.users.size;
  const airflowRoles = fake.state.roles.size;

  // 2. No-op run: page reads only.
  const noop = await run();
  const minimum = Math.ceil(airflowUsers / 100) + Math.ceil(airflowRoles / 100) + (version === 3 ? 1 : 0);

  // 3. 1% churn: deactivate some, move some Viewer → User, rename some; each is one Airflow write.
  const churnN = Math.max(1, Math.round(USERS / 100));
  const deactivate = Math.round(churnN * 0.2);
  const move = Math.round(churnN * 0.4);
  const rename = churnN - deactivate - move;
  // Users of team-00..team-19 (Viewer) are i % GROUPS < 20; pick disjoint sets from the front.
  const viewers = ids.map((id, i) => ({ id, i })).filter(({ i }) => i % GROUPS < 20);
  const picks = viewers.slice(0, churnN);
  await unsynced(db, async () => {
    for (const { id } of picks.slice(0, deactivate)) await store.updateUser(id, (cur): UserData => ({ ...cur.data, active: false }), ctx);
    for (const { id, i } of picks.slice(deactivate, deactivate + move)) {
      const from = groupIds[i % GROUPS];
      const to = groupIds[20 + (i % 20)];
      await store.updateGroup(from, () => ({ memberOps: [{ op: 'remove', ids: [id] }] }), ctx);
      await store.updateGroup(to, () => ({ memberOps: [{ op: 'add', ids: [id] }] }), ctx);
    }
    for (const { id } of picks.slice(deactivate + move)) {
      await store.updateUser(id, (cur): UserData => ({ ...cur.data, name: { ...(cur.data.name as object), familyName: `renamed-${cur.data.userName}` } }), ctx);
    }
  });
  const churn = await run();
  progress(`no-op ${noop.seconds.toFixed(1)} s; churn ${churn.seconds.toFixed(1)} s; latency samples`);

  // 4. Latency: SCIM deactivation (store write + notifyChange, as the SCIM routes' onChange does) → the fake's state changed.
  const loop = new ReconcileLoop({ reconciler, store, config: config.reconcile, clock: systemClock, logger, runAtStart: false });
  loop.start();
  const pool = viewers.slice(churnN).concat(ids.map((id, i) => ({ id, i })).filter(({ i }) => i % GROUPS >= 20)).slice(0, SAMPLES);
  const lat: number[] = [];
  let timeouts = 0;
  for (const { id, i } of pool) {
    const username = `user${i}`;
    const before = JSON.stringify(fake.state.getUser(username)?.roles);
    const t0 = performance.now();
    await store.updateUser(id, (cur): UserData => ({ ...cur.data, active: false }), ctx);
    loop.notifyChange();
    const done = await waitFor(() => JSON.stringify(fake.state.getUser(username)?.roles) !== before, 10_000);
    if (done) lat.push(performance.now() - t0);
    else timeouts++;
    if ((lat.length + timeouts) % 10 === 0) progress(String(lat.length + timeouts));
  }
  await loop.stop();
  lat.sort((a, b) => a - b);

  await fake.close();
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });

  const changes = { deactivated: deactivate, moved: move, renamed: rename };
  return {
    version,
    loadSeconds,
    first: { seconds: first.seconds, result: first.result, calls: first.calls, airflowUsers },
    noop: { seconds: noop.seconds, result: noop.result, calls: noop.calls, minimum, ratio: noop.calls.total / minimum },
    churn: { seconds: churn.seconds, result: churn.result, changes, calls: churn.calls, ratio: churn.calls.writes / churnN },
    latency: {
      samples: lat.length,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      max: lat[lat.length - 1] ?? NaN,
      mean: lat.reduce((a, b) => a + b, 0) / (lat.length || 1),
      timeouts,
    },
  };
}

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 2));
  }
  return cond();
}

async function main(): Promise<void> {
  if (process.argv.includes('--replicas')) {
    process.exitCode = exitCode(await benchReplicas(process.argv));
    return;
  }
  console.log(`reconcile bench: ${USERS.toLocaleString()} users in ${GROUPS} groups → Viewer/User/Op, fake Airflow ${VERSIONS.join(' and ')} with ${LATENCY_MS} ms per call, ${SAMPLES} latency samples`);
  console.log(`machine: ${os.cpus().length} cores, node ${process.version}; fake Airflow, store and reconciler in this one process\n`);
  const all: VersionFigures[] = [];
  for (const v of VERSIONS) {
    process.stdout.write(`Airflow ${v}.x:`);
    const f = await benchVersion(v);
    all.push(f);
    process.stdout.write('\n\n');
    const c = f.first.calls;
    console.log(`Airflow ${f.version}.x (store load ${f.loadSeconds.toFixed(1)} s)`);
    console.log(
      table(
        ['phase', 'wall s', 'result', 'calls', 'reads', 'writes', 'auth', 'figure'],
        [
          ['first run (create all)', f.first.seconds, f.first.result, c.total, c.reads, c.writes, c.auth, `${fmt(f.first.airflowUsers)} Airflow users`],
          ['no-op run', f.noop.seconds, f.noop.result, f.noop.calls.total, f.noop.calls.reads, f.noop.calls.writes, f.noop.calls.auth, `min ${f.noop.minimum}, ratio ${f.noop.ratio.toFixed(2)}`],
          [`1% churn (${Object.entries(f.churn.changes).map(([k, n]) => `${n} ${k}`).join(', ')})`, f.churn.seconds, f.churn.result, f.churn.calls.total, f.churn.calls.reads, f.churn.calls.writes, f.churn.calls.auth, `writes/changes ${f.churn.ratio.toFixed(2)}`],
        ],
      ),
    );
    console.log(`  no-op calls: ${JSON.stringify(f.noop.calls.byCall)}`);
    console.log(`  churn calls: ${JSON.stringify(f.churn.calls.byCall)}`);
    const l = f.latency;
    console.log(`  deactivation → Airflow (${l.samples} samples, ${l.timeouts} timeouts): p50 ${fmt(l.p50)} ms, p99 ${fmt(l.p99)} ms, mean ${fmt(l.mean)} ms, max ${fmt(l.max)} ms`);
    console.log(`  (each sample = the loop's debounce, ${DEBOUNCE_MS} ms, + one change-triggered run, which reads the changed user (one GET) and the role page, then writes; a full no-op run took ${fmt(f.noop.seconds * 1000)} ms)\n`);
  }
  const list: Verdict[] = all.flatMap((f) => [
    { target: `${f.version}.x first run creates every user`, measured: `${fmt(f.first.airflowUsers)} users, ${f.first.result}`, pass: f.first.airflowUsers >= USERS && f.first.result === 'applied' },
    { target: `${f.version}.x no-op run: calls <= page reads (+ token)`, measured: `${f.noop.calls.total} / ${f.noop.minimum} = ${f.noop.ratio.toFixed(2)}`, pass: f.noop.calls.total <= f.noop.minimum && f.noop.calls.writes === 0 },
    { target: `${f.version}.x churn: exactly one write per change`, measured: `${f.churn.calls.writes} / ${Object.values(f.churn.changes).reduce((a, b) => a + b, 0)} = ${f.churn.ratio.toFixed(2)}`, pass: f.churn.ratio === 1 },
    { target: `${f.version}.x deactivation → Airflow p99 < 1 s`, measured: `${fmt(f.latency.p99)} ms (${f.latency.timeouts} timeouts)`, pass: f.latency.p99 < 1000 && f.latency.timeouts === 0 },
  ]);
  console.log(verdicts(list));
  console.log('\n' + JSON.stringify({ bench: 'reconcile', at: new Date().toISOString(), cores: os.cpus().length, node: process.version, users: USERS, groups: GROUPS, latencyMs: LATENCY_MS, versions: all, targets: list }));
  process.exitCode = exitCode(list);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
