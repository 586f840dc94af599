/**
 * An end-to-end world for tests: the SCIM app (supertest, in-process), a fake Airflow 2.x or 3.x over real HTTP,
 * and the reconciler wired to both through the real Airflow client (auto-detecting the version).
 */
import { z } from 'zod';
import { createAirflowClient } from '../../src/airflow/detect';
import type { AirflowClient } from '../../src/airflow/types';
import { loadConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import type { FakeUser, SeedUser } from '../../dev/fake-airflow/state';
import { silentLogger } from '../../src/logger';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import { Reconciler } from '../../src/reconcile/reconciler';
import type { RunReport } from '../../src/reconcile/types';
import { buildTestApp, type TestApp } from '../helpers/scim-app';
import { matchPartial, replayExchange, Bindings, type LoadedFile, type Send } from '../support/replay';

export const API_USER = { username: 'svc-scim', password: 'svc-scim-password' };

/** Role mappings per IdP folder: Okta maps by group name; Entra by name and by externalId (renames keep roles). */
export const E2E_MAPPINGS: Record<string, Array<Record<string, unknown>>> = {
  okta: [
    { group: 'Airflow Admins', roles: ['Admin'] },
    { group: 'Airflow Engineers', roles: ['User'] },
    { group: 'Airflow Viewers', roles: ['Viewer'] },
  ],
  entra: [
    { group: 'airflow-admins', roles: ['Admin'] },
    { groupExternalId: 'grp-users', roles: ['User'] },
    { groupExternalId: 'grp-viewers', roles: ['Viewer'] },
  ],
};

/** Present in Airflow before any provisioning; none of them may ever change. */
export const SEED_USERS: SeedUser[] = [
  { username: 'admin', email: 'admin@example.com', firstName: 'Site', lastName: 'Admin', roles: ['Admin'], password: 'admin-pw' },
  { username: 'legacy.ops', email: 'legacy.ops@example.com', firstName: 'Legacy', lastName: 'Operator', roles: ['Op'], password: 'legacy-pw' },
];

export interface World {
  scim: TestApp;
  fake: FakeAirflow;
  airflow: AirflowClient;
  reconciler: Reconciler;
  config: Config;
  close(): Promise<void>;
}

export interface WorldOptions {
  version: 2 | 3;
  mappings: Array<Record<string, unknown>>;
  /** Airflow client retries (default 2) and other airflow.* overrides. */
  airflow?: Record<string, unknown>;
}

export async function startWorld(opts: WorldOptions): Promise<World> {
  const fake = await startFakeAirflow({ version: opts.version, adminUser: API_USER.username, adminPassword: API_USER.password });
  for (const u of SEED_USERS) fake.state.addUser(u);
  const config = loadConfig({
    env: {},
    overrides: {
      airflow: { url: fake.url, apiVersion: 'auto', apiUser: API_USER.username, apiPassword: API_USER.password, retries: 2, timeout: '5s', ...opts.airflow },
      roles: { mappings: opts.mappings },
      deprovision: 'strip-roles',
      // The sequences deprovision a large share of a handful of users on purpose; the limits have their own tests.
      safety: { protectedUsers: ['admin'], maxDeprovisions: 1000, maxDeprovisionPercent: 100 },
    },
  });
  const scim = await buildTestApp({ backend: 'sqlite' });
  const logger = silentLogger();
  // Retries back off instantly: the fault tests exercise the logic, not the wall clock.
  const airflow = createAirflowClient(config.airflow, logger, { sleep: async () => undefined });
  const reconciler = new Reconciler({
    store: scim.store,
    airflow,
    state: new MemoryReconcileState<RunReport>(),
    audit: scim.audit,
    config,
    clock: scim.clock,
    logger,
  });
  return {
    scim,
    fake,
    airflow,
    reconciler,
    config,
    close: async () => {
      await scim.close();
      await fake.close();
    },
  };
}

/** What a test sees of an Airflow account. */
export interface SeenUser {
  username: string;
  email: string;
  firstName: string;
  lastName: string;
  roles: string[];
}

export function airflowUsers(fake: FakeAirflow): Map<string, SeenUser> {
  return new Map(fake.state.listUsers().map((u: FakeUser) => [u.username, seen(u)]));
}

/** Everything about an account that must not change when we leave it alone (password and active included). */
export function untouchedView(fake: FakeAirflow): Map<string, string> {
  return new Map(fake.state.listUsers().map((u) => [u.username, JSON.stringify({ ...seen(u), password: u.password, active: u.active })]));
}

const seen = (u: FakeUser): SeenUser => ({
  username: u.username,
  email: u.email,
  firstName: u.firstName,
  lastName: u.lastName,
  roles: [...u.roles].sort(),
});

/** One reconcile run that must succeed completely (no failed action, nothing held). */
export async function reconcileClean(world: Pick<World, 'reconciler'>): Promise<RunReport> {
  const report = await world.reconciler.runOnce({ trigger: 'cli' });
  const failed = report.outcomes.filter((o) => !o.ok);
  if (report.error || failed.length || report.verdict.blocked || !['applied', 'nothing-to-do'].includes(report.result)) {
    throw new Error(
      `reconcile run was not clean: result=${report.result} error=${report.error ?? '-'} blocked=${JSON.stringify(report.verdict.blocked)}\n` +
        `failed: ${JSON.stringify(failed.map((o) => ({ kind: o.action.kind, error: o.error })))}`,
    );
  }
  return report;
}

/** Runs until a run applies nothing (at most `max` runs); returns the reports. */
export async function reconcileUntilQuiet(world: World, max = 8): Promise<RunReport[]> {
  const reports: RunReport[] = [];
  for (let i = 0; i < max; i++) {
    const r = await world.reconciler.runOnce({ trigger: 'schedule' });
    reports.push(r);
    if (r.result === 'nothing-to-do') return reports;
  }
  throw new Error(`no quiet run after ${max} runs: ${reports.map((r) => `${r.result}${r.error ? ` (${r.error})` : ''}`).join(', ')}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Checkpoints (test/fixtures/e2e/*): expected Airflow accounts after a reconcile run.

const expectedUser = z.union([
  z.literal('{{absent}}'),
  z.strictObject({
    email: z.string().optional(),
    firstName: z.string().optional(),
    lastName: z.string().optional(),
    /** Compared as a set. */
    roles: z.array(z.string()).optional(),
  }),
]);
export const checkpointSchema = z.strictObject({ airflow: z.strictObject({ users: z.record(z.string(), expectedUser) }) });
export type Checkpoint = z.infer<typeof checkpointSchema>;

/**
 * Compares Airflow with a checkpoint. Rules: each listed user matches (roles as a set; "{{absent}}" = no such
 * account); seed users are exactly as seeded; any other account must have been listed by this or an earlier
 * checkpoint (so nothing unexpected is ever created). Returns the problems.
 */
export function checkAirflow(fake: FakeAirflow, cp: Checkpoint, known: Set<string>, seedState: Map<string, string>): string[] {
  return compareCheckpoint(airflowUsers(fake), untouchedView(fake), cp, known, seedState);
}

/** The checkpoint rules over what a witness saw: its users, and its view of the seed accounts. */
export function compareCheckpoint(
  users: Map<string, SeenUser>, now: Map<string, string>, cp: Checkpoint, known: Set<string>, seedState: Map<string, string>,
): string[] {
  const problems: string[] = [];
  const b = new Bindings();
  for (const [username, want] of Object.entries(cp.airflow.users)) {
    const have = users.get(username);
    if (want === '{{absent}}') {
      if (have) problems.push(`${username}: expected no Airflow account, found ${JSON.stringify(have)}`);
      continue;
    }
    known.add(username);
    if (!have) {
      problems.push(`${username}: no Airflow account (have: ${[...users.keys()].join(', ')})`);
      continue;
    }
    const expected = { ...want, ...(want.roles ? { roles: [...want.roles].sort() } : {}) };
    problems.push(...matchPartial(expected, have, b, username));
  }
  for (const [username, seed] of seedState) {
    if (now.get(username) !== seed) problems.push(`${username}: must be untouched; was ${seed}, now ${now.get(username) ?? 'gone'}`);
  }
  for (const username of users.keys()) {
    if (!seedState.has(username) && !known.has(username)) problems.push(`${username}: unexpected Airflow account ${JSON.stringify(users.get(username))}`);
  }
  return problems;
}

/**
 * One file of an e2e sequence: an exchange is replayed into the SCIM API; at a checkpoint the reconciler runs, `check`
 * lists what Airflow shows wrong, and a second run must plan nothing. A failure names the earlier one it follows.
 */
export async function sequenceStep(
  seq: { failed?: string }, f: LoadedFile, bindings: Bindings, send: Send, world: Pick<World, 'reconciler'>,
  check: (cp: Checkpoint) => Promise<string[]>,
): Promise<void> {
  try {
    if (f.error) throw new Error(f.error);
    const fx = f.fixture!;
    if (fx.kind === 'exchange') {
      await replayExchange(f.name, fx, bindings, send);
      return;
    }
    const parsed = checkpointSchema.safeParse(fx.checkpoint);
    if (!parsed.success) throw new Error(`${f.name}: malformed checkpoint: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    await reconcileClean(world);
    const mismatches = await check(parsed.data);
    if (mismatches.length) throw new Error(`${f.name}: ${fx.description}\n  - ${mismatches.join('\n  - ')}`);
    const again = await reconcileClean(world);
    if (again.plan.actions.length) throw new Error(`${f.name}: the second run still planned ${JSON.stringify(again.plan.actions)}`);
    if (again.result !== 'nothing-to-do') throw new Error(`${f.name}: the second run's result is ${again.result}`);
  } catch (e) {
    if (seq.failed) (e as Error).message += `\n  (an earlier step of this sequence failed first: ${seq.failed})`;
    seq.failed ??= f.name;
    throw e;
  }
}
