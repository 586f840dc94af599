import type { RunReport } from '../src/reconcile/types';
/**
 * The reconciler against real Airflow (test/real-airflow targets), one target at a time on a fresh metadata DB:
 *   1. provision N users (default 1,000, in 10 groups mapped to Viewer/User/Op plus a custom role) into an empty
 *      Airflow: wall time and users/s;
 *   2. a no-op run at N users: HTTP calls made, against the page-read minimum (users/100 + roles/100 pages, plus
 *      the providers read done once per process, plus a token on 3.x);
 *   3. the run after every apply plans nothing (both role PATCH behaviours: 'replace' on FAB >= 3.8.1, 'add' below);
 *   4. SCIM deactivation → Airflow has answered the PATCH that strips the roles, p50/p99 over S deactivations, with
 *      the service's change-triggered loop (debounce included).
 *
 *   npm run bench:airflow      REAL_AIRFLOW_TARGETS=2.10.5,3.3.2,3.3.2-fab-3.8.0 BENCH_USERS=1000 BENCH_SAMPLES=50
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAirflowClient } from '../src/airflow/detect';
import type { AirflowClient, AirflowUserChange } from '../src/airflow/types';
import { parseConfig } from '../src/config/load';
import { systemClock } from '../src/core/clock';
import { silentLogger } from '../src/logger';
import { Reconciler } from '../src/reconcile/reconciler';
import { SqlReconcileState } from '../src/store/sql/reconcile-state';
import { ReconcileLoop } from '../src/reconcile/trigger';
import { openDatabase } from '../src/store/database';
import { SqlAuditLog } from '../src/store/sql/audit';
import { SqlIdentityStore } from '../src/store/sql/identity';
import type { UserData } from '../src/store/types';
import { prepare, SERVICE_ACCOUNT, start, stop, type RealAirflowServer } from '../test/real-airflow/server';
import { selectedTargets, type RealAirflowTarget } from '../test/real-airflow/targets';
import { unsynced, userData } from './lib/dataset';
import { fmt, percentile, table, verdicts, type Verdict } from './lib/report';
import { sqliteDriverFor } from '../src/store/sql/sqlite-driver';

const USERS = Number(process.env.BENCH_USERS ?? 1000);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 50);
const GROUPS = 10;
const ctx = { actor: 'bench' };
const MAPPINGS = [
  { groupPattern: 'team-0[0-5]', roles: ['Viewer'] },
  { groupPattern: 'team-0[6-8]', roles: ['User', 'finance-readers'] },
  { group: 'team-09', roles: ['Op'] },
];
const CUSTOM = { 'finance-readers': { permissions: [['can_read', 'DAG:finance_daily'], ['can_read', 'DAGs']] } };

/** Counts calls and resolves waiters when a user's roles were stripped (Airflow answered the PATCH). */
class Watched implements AirflowClient {
  private readonly waiters = new Map<string, () => void>();
  constructor(private readonly inner: AirflowClient) {}
  get calls() {
    return this.inner.calls;
  }
  stripped(username: string): Promise<void> {
    return new Promise((resolve) => this.waiters.set(username.toLowerCase(), resolve));
  }
  info = () => this.inner.info();
  listUsers = () => this.inner.listUsers();
  listRoles = () => this.inner.listRoles();
  getUser: AirflowClient['getUser'] = (u) => this.inner.getUser(u);
  createUser: AirflowClient['createUser'] = (u) => this.inner.createUser(u);
  deleteUser: AirflowClient['deleteUser'] = (u) => this.inner.deleteUser(u);
  createRole: AirflowClient['createRole'] = (r) => this.inner.createRole(r);
  setRolePermissions: AirflowClient['setRolePermissions'] = (n, p) => this.inner.setRolePermissions(n, p);
  async updateUser(username: string, change: AirflowUserChange) {
    const u = await this.inner.updateUser(username, change);
    if (change.roles && change.roles.length === 0) this.waiters.get(username.toLowerCase())?.();
    return u;
  }
}

const totalCalls = (c: ReadonlyMap<string, number> | undefined): number => [...(c?.values() ?? [])].reduce((a, b) => a + b, 0);

interface Figures {
  target: RealAirflowTarget;
  provisionSeconds: number;
  provisionResult: string;
  rolePatch: string;
  noopCalls: number;
  noopMinimum: number;
  noopResult: string;
  afterApply: string;
  latency: { samples: number; p50: number; p90: number; p99: number; max: number; slowest: number[] };
}

async function benchTarget(target: RealAirflowTarget): Promise<Figures> {
  const server: RealAirflowServer = await prepare(target);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'real-airflow-bench-'));
  const db = openDatabase(path.join(dir, 'bench.db'));
  try {
    await start(server);
    const audit = new SqlAuditLog(sqliteDriverFor(db));
    const store = new SqlIdentityStore(sqliteDriverFor(db));
    const state = new SqlReconcileState<RunReport>(sqliteDriverFor(db));
    const logger = silentLogger();
    const config = parseConfig({
      airflow: { url: server.url, apiVersion: 'auto', apiUser: SERVICE_ACCOUNT.username, apiPassword: SERVICE_ACCOUNT.password, timeout: '30s' },
      roles: { mappings: MAPPINGS, custom: CUSTOM },
      safety: { maxDeprovisions: 100_000, maxDeprovisionPercent: 100 },
      logging: { level: 'warn' },
    });
    const airflow = new Watched(createAirflowClient(config.airflow, logger));
    const reconciler = new Reconciler({ store, airflow, state, audit, config, clock: systemClock, logger });
    const ids: string[] = [];
    await unsynced(db, async () => {
      for (let i = 0; i < USERS; i++) ids.push((await store.createUser(userData(i), ctx)).id);
      for (let k = 0; k < GROUPS; k++) await store.createGroup({ displayName: `team-${String(k).padStart(2, '0')}` }, ids.filter((_, i) => i % GROUPS === k), ctx);
    });

    // 1. Provision into an empty Airflow.
    let t0 = performance.now();
    const first = await reconciler.runOnce({ trigger: 'cli' });
    const provisionSeconds = (performance.now() - t0) / 1000;
    process.stdout.write(` provisioned ${USERS} in ${provisionSeconds.toFixed(1)} s;`);

    // 2-3. The run after the apply plans nothing; count its calls.
    const before = totalCalls(airflow.calls);
    const noop = await reconciler.runOnce({ trigger: 'cli' });
    const noopCalls = totalCalls(airflow.calls) - before;
    const airflowUsers = USERS + 2;
    const noopMinimum = Math.ceil(airflowUsers / 100) + 1; // user pages + one role page (6 roles)
    const rolePatch = (await airflow.info()).rolePatch;

    // 4. Deactivation → roles stripped, through the service's change-triggered loop.
    const loop = new ReconcileLoop({ reconciler, store, config: config.reconcile, clock: systemClock, logger, runAtStart: false });
    loop.start();
    const lat: number[] = [];
    for (let i = 0; i < Math.min(SAMPLES, USERS); i++) {
      const done = airflow.stripped(`user${i}`);
      t0 = performance.now();
      await store.updateUser(ids[i] as string, (cur): UserData => ({ ...cur.data, active: false }), ctx);
      loop.notifyChange();
      await Promise.race([done, new Promise((_, reject) => setTimeout(() => reject(new Error(`user${i} not stripped within 30 s`)), 30_000))]);
      lat.push(performance.now() - t0);
    }
    await loop.stop();
    // Which samples were slowest (index in the order taken), to tell a first-call cost from a steady one.
    const order = lat.map((ms, i) => [ms, i] as const).sort((a, b) => a[0] - b[0]).map(([, i]) => i);
    lat.sort((a, b) => a - b);
    const after = await reconciler.runOnce({ trigger: 'cli' });
    return {
      target, provisionSeconds, provisionResult: first.result, rolePatch, noopCalls, noopMinimum, noopResult: noop.result,
      afterApply: after.plan.actions.length === 0 ? 'nothing planned' : `${after.plan.actions.length} action(s) planned`,
      latency: { samples: lat.length, p50: percentile(lat, 50), p90: percentile(lat, 90), p99: percentile(lat, 99), max: lat[lat.length - 1] ?? NaN, slowest: order.slice(-3) },
    };
  } finally {
    await stop(server);
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(server.home, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const targets = process.env['REAL_AIRFLOW_TARGETS'] ? selectedTargets() : selectedTargets({ REAL_AIRFLOW_TARGETS: '2.10.5,3.3.2,3.3.2-fab-3.8.0' });
  console.log(`bench/real-airflow: ${USERS} users in ${GROUPS} groups, ${SAMPLES} deactivations, targets ${targets.map((t) => t.id).join(', ')}`);
  const figures: Figures[] = [];
  for (const t of targets) {
    process.stdout.write(`${t.label}:`);
    figures.push(await benchTarget(t));
    process.stdout.write(' done\n');
  }
  console.log(`\n${table(
    ['target', 'role PATCH', 'provision s', 'users/s', 'no-op calls', 'minimum', 'after apply', 'deact p50 ms', 'p90', 'p99', 'slowest samples'],
    figures.map((f) => [
      f.target.id, f.rolePatch, f.provisionSeconds, USERS / f.provisionSeconds, f.noopCalls, f.noopMinimum, f.afterApply, f.latency.p50, f.latency.p90, f.latency.p99,
      `#${f.latency.slowest.join(', #')}`,
    ]),
  )}\n`);
  const list: Verdict[] = figures.flatMap((f) => [
    { target: `${f.target.id}: provisioning run clean`, measured: f.provisionResult, pass: f.provisionResult === 'applied' },
    { target: `${f.target.id}: no-op run = page-read minimum (+ providers read, token)`, measured: `${fmt(f.noopCalls)} vs ${fmt(f.noopMinimum)}`, pass: f.noopResult === 'nothing-to-do' && f.noopCalls <= f.noopMinimum + 2 },
    { target: `${f.target.id}: run after apply plans nothing (role PATCH ${f.rolePatch})`, measured: f.afterApply, pass: f.afterApply === 'nothing planned' },
    { target: `${f.target.id}: deactivation → roles stripped p99 < 1 s`, measured: `${fmt(f.latency.p99)} ms`, pass: f.latency.p99 < 1000 },
  ]);
  console.log(verdicts(list));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
