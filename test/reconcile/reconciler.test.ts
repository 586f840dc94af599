import type { RunReport } from '../../src/reconcile/types';
import { MemoryAirflowClient } from '../../src/airflow/memory-client';
import { unknownResource } from '../../src/airflow/errors';
import { AirflowError, type AirflowRole, type AirflowUser, type AirflowUserChange, type NewAirflowUser, type Permission } from '../../src/airflow/types';
import { configSchema, type ConfigInput } from '../../src/config/schema';
import { ManualClock } from '../../src/core/clock';
import { silentLogger } from '../../src/logger';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import { blockedKey, heldDecisionsKey, lastSuccessKey } from '../../src/reconcile/state-keys';
import { Reconciler, type BlockEvent, type ReconcileMetrics, type ReconcilerDeps } from '../../src/reconcile/reconciler';
import { MemoryAuditLog } from '../../src/store/memory-audit';
import { MemoryIdentityStore } from '../../src/store/memory-identity';
import type { IdentityStore } from '../../src/store/types';

const ctx = { actor: 'test' };
const WRITES = /^(createUser|updateUser|deleteUser|createRole|setRolePermissions)/;

/** Fails createUser for chosen usernames with a 5xx; refuses permissions on chosen resources like Airflow (400). */
class FlakyAirflow extends MemoryAirflowClient {
  failCreate = new Set<string>();
  failUpdate = new Set<string>();
  missingResources = new Set<string>();
  override async createUser(user: NewAirflowUser): Promise<AirflowUser> {
    if (this.failCreate.has(user.username)) throw new AirflowError('server', `500 creating ${user.username}`, 500);
    return super.createUser(user);
  }
  override async updateUser(username: string, change: AirflowUserChange): Promise<AirflowUser> {
    if (this.failUpdate.delete(username)) throw new AirflowError('server', `500 updating ${username}`, 500);
    return super.updateUser(username, change);
  }
  override async createRole(role: AirflowRole): Promise<void> {
    this.refuse(role.permissions, 'POST /roles');
    return super.createRole(role);
  }
  override async setRolePermissions(name: string, permissions: Permission[]): Promise<void> {
    this.refuse(permissions, 'PATCH /roles/{name}');
    return super.setRolePermissions(name, permissions);
  }
  private refuse(perms: Permission[], endpoint: string): void {
    const missing = perms.find(([, r]) => this.missingResources.has(r));
    if (missing) {
      this.log.push(`refused ${endpoint} ${missing[1]}`);
      throw unknownResource(missing[1], endpoint);
    }
  }
}

function setup(cfg: ConfigInput = {}, seedUsers: AirflowUser[] = [{ username: 'admin', email: 'admin@local', firstName: 'A', lastName: 'D', roles: ['Admin'], active: true }], extra: Partial<ReconcilerDeps> = {}) {
  const clock = new ManualClock();
  const audit = new MemoryAuditLog();
  const store: IdentityStore = new MemoryIdentityStore(audit, clock, (() => { let n = 0; return () => `id-${++n}`; })());
  const airflow = new FlakyAirflow({ users: seedUsers });
  const state = new MemoryReconcileState<RunReport>();
  const config = configSchema.parse({
    airflow: { apiUser: 'svc', concurrency: 2 },
    roles: { mappings: [{ group: 'airflow-users', roles: ['User'] }, { group: 'airflow-ops', roles: ['Op'] }] },
    safety: { protectedUsers: ['admin'], maxDeprovisions: 2, maxDeprovisionPercent: 100, window: '1h' },
    ...cfg,
  });
  const seen: { runs: string[]; actions: string[]; drift: Record<string, number>; lag: number[] } = { runs: [], actions: [], drift: {}, lag: [] };
  const metrics: ReconcileMetrics = {
    onRun: (r) => seen.runs.push(r.result),
    onAction: (k, ok) => seen.actions.push(`${k}:${ok}`),
    onDrift: (k, n) => (seen.drift[k] = n),
    onLag: (s) => seen.lag.push(s),
  };
  const reconciler = new Reconciler({ store, airflow, state, audit, config, clock, logger: silentLogger(), metrics, newPassword: () => 'pw', ...extra });
  const addUsers = async (names: string[], groupName = 'airflow-users'): Promise<string[]> => {
    const ids: string[] = [];
    for (const n of names) ids.push((await store.createUser({ userName: n, active: true, emails: [{ value: `${n}@corp.io`, primary: true }], name: { givenName: n, familyName: 'X' } }, ctx)).id);
    await store.createGroup({ displayName: groupName }, ids, ctx);
    return ids;
  };
  const deactivate = async (id: string): Promise<void> => {
    await store.updateUser(id, (u) => ({ ...u.data, active: false }), ctx);
  };
  const writes = (): string[] => airflow.log.filter((l) => WRITES.test(l));
  return { clock, audit, store, airflow, state, reconciler, seen, addUsers, deactivate, writes };
}

describe('Reconciler.runOnce', () => {
  test('a custom role Airflow refuses (a DAG not parsed yet) is drift, not a 400 per user or per run; the schedule tries again', async () => {
    const t = setup({
      roles: { mappings: [{ group: 'airflow-users', roles: ['User', 'fin'] }], custom: { fin: { permissions: [['can_read', 'DAG:finance_daily']] } } },
    });
    t.airflow.missingResources.add('DAG:finance_daily');
    await t.addUsers(['alice']);
    const first = await t.reconciler.runOnce({ trigger: 'startup' });
    expect(first.result).toBe('applied');
    expect(first.plan.drift).toContainEqual(expect.objectContaining({ kind: 'unavailable-role', role: 'fin', note: expect.stringContaining("no resource 'DAG:finance_daily'") }));
    expect(t.airflow.peekUser('alice')?.roles).toEqual(['User']);
    expect(t.airflow.log.filter((l) => l.startsWith('refused'))).toHaveLength(1);
    // A SCIM change does not try the role again.
    await t.addUsers(['bob'], 'airflow-users-2');
    const change = await t.reconciler.runOnce({ trigger: 'change' });
    expect(change.plan.drift.map((d) => d.kind)).toContain('unavailable-role');
    expect(t.airflow.log.filter((l) => l.startsWith('refused'))).toHaveLength(1);
    // The DAG gets parsed: the next scheduled run creates the role and gives it to alice.
    t.airflow.missingResources.clear();
    const scheduled = await t.reconciler.runOnce({ trigger: 'schedule' });
    expect(scheduled.result).toBe('applied');
    expect(t.airflow.peekRole('fin')?.permissions).toEqual([['can_read', 'DAG:finance_daily'], ['can_read', 'Website']]);
    expect(t.airflow.peekUser('alice')?.roles).toEqual(['User', 'fin']);
  });

  test('applies the plan, records ownership and audit, then has nothing to do', async () => {
    const t = setup();
    await t.addUsers(['alice', 'bob']);
    const r1 = await t.reconciler.runOnce({ trigger: 'startup' });
    expect(r1).toMatchObject({ result: 'applied', dryRun: false, seq: await t.store.latestSeq(), id: 1 });
    expect(t.writes()).toEqual(['createUser alice', 'createUser bob']);
    expect(t.airflow.peekUser('alice')).toMatchObject({ email: 'alice@corp.io', firstName: 'alice', lastName: 'X', roles: ['User'] });
    expect((await t.state.owned()).map((o) => [o.username, o.how])).toEqual([['alice', 'created'], ['bob', 'created']]);
    expect(await t.audit.query({ source: 'airflow', subject: 'alice' })).toEqual([
      expect.objectContaining({ actor: 'reconciler', action: 'create-user', outcome: 'success', detail: expect.objectContaining({ after: expect.objectContaining({ roles: ['User'] }) }) }),
    ]);
    expect(await lastSuccessKey.read(t.state)).toMatchObject({ seq: await t.store.latestSeq() });
    expect(t.seen.lag).toHaveLength(1);

    const r2 = await t.reconciler.runOnce({ trigger: 'schedule' });
    expect(r2.result).toBe('nothing-to-do');
    expect(t.writes()).toHaveLength(2);
    expect(t.seen.runs).toEqual(['applied', 'nothing-to-do']);
    expect(t.seen.actions).toEqual(['create-user:true', 'create-user:true']);
  });

  test('a dry run plans but makes zero writes to Airflow and changes no ownership', async () => {
    const t = setup();
    await t.addUsers(['alice']);
    const r = await t.reconciler.runOnce({ trigger: 'cli', dryRun: true });
    expect(r.result).toBe('planned');
    expect(r.plan.actions.map((a) => a.kind)).toEqual(['create-user']);
    expect(r.outcomes).toEqual([]);
    expect(t.writes()).toEqual([]);
    expect(await t.state.owned()).toEqual([]);
    expect(await t.state.lastRun()).toBeUndefined();
    expect(await t.state.lastRun({ includeDryRun: true })).toMatchObject({ dryRun: true, result: 'planned' });
    expect(t.seen.runs).toEqual([]);
  });

  test('blocked: other actions apply, deprovisions are held, kv and audit say why; allowMassDeprovision releases', async () => {
    const t = setup();
    const ids = await t.addUsers(['u1', 'u2', 'u3']);
    await t.reconciler.runOnce({ trigger: 'startup' });
    for (const id of ids) await t.deactivate(id);
    await t.addUsers(['newbie'], 'airflow-ops');

    const r = await t.reconciler.runOnce({ trigger: 'change' });
    expect(r.result).toBe('blocked');
    expect(r.verdict.held.map((a) => a.kind === 'deprovision-user' && a.username)).toEqual(['u1', 'u2', 'u3']);
    expect(r.outcomes.map((o) => o.action.kind)).toEqual(['create-user']);
    expect(t.airflow.peekUser('newbie')?.roles).toEqual(['Op']);
    expect(t.airflow.peekUser('u1')?.roles).toEqual(['User']);
    expect(await blockedKey.read(t.state)).toMatchObject({ deprovisions: 3, limit: 2, held: ['u1', 'u2', 'u3'] });

    await t.reconciler.runOnce({ trigger: 'schedule' });
    const blockedAudits = (await t.audit.query({ source: 'airflow' })).filter((e) => e.action === 'blocked');
    expect(blockedAudits).toHaveLength(1); // not re-audited while the same set stays held

    const forced = await t.reconciler.runOnce({ trigger: 'cli', allowMassDeprovision: true });
    expect(forced.result).toBe('applied');
    expect(t.airflow.peekUser('u1')?.roles).toEqual([]);
    expect(await blockedKey.read(t.state)).toBeUndefined();
    expect(await t.state.countDeprovisionsSince(new Date(0))).toBe(3);
  });

  test('held changes decided one by one: an approval applies, a rejection keeps the access until the IdP changes again', async () => {
    const t = setup();
    const [u1, u2, u3, u4] = await t.addUsers(['u1', 'u2', 'u3', 'u4']);
    await t.reconciler.runOnce({ trigger: 'startup' });
    for (const id of [u1!, u2!, u3!, u4!]) await t.deactivate(id);
    expect((await t.reconciler.runOnce({ trigger: 'change' })).result).toBe('blocked');
    const blocked = (await blockedKey.read(t.state))!;
    expect(Object.keys(blocked.heldChanges ?? {})).toEqual(['u1', 'u2', 'u3', 'u4']);
    expect(blocked.heldChanges?.['u1']?.change).toMatch(/^strip roles \[User\]/);
    // What `airflow-scim held approve u1` and `held reject u2` record.
    const at = new Date().toISOString();
    await heldDecisionsKey.write(t.state, {
      u1: { decision: 'approve', key: blocked.heldChanges!['u1']!.key, by: 'ops', at },
      u2: { decision: 'reject', key: blocked.heldChanges!['u2']!.key, by: 'ops', at },
    });
    // A change run: the held users are still in scope, so the decisions apply at once.
    const next = await t.reconciler.runOnce({ trigger: 'change' });
    expect(t.airflow.peekUser('u1')?.roles).toEqual([]);
    expect(t.airflow.peekUser('u2')?.roles).toEqual(['User']);
    expect(next.verdict.declined?.map((a) => 'username' in a && a.username)).toEqual(['u2']);
    // The approved one counts against the limit (2): with u3 and u4 that is 3, so those two stay held.
    expect(next.verdict.held.map((a) => 'username' in a && a.username)).toEqual(['u3', 'u4']);
    // The approval is used up; the rejection stays while the same change is proposed.
    await t.reconciler.runOnce({ trigger: 'schedule' });
    expect(Object.keys((await heldDecisionsKey.read(t.state)) ?? {})).toEqual(['u2']);
    expect(t.airflow.peekUser('u2')?.roles).toEqual(['User']);
    // The IdP changes again (u2 back, then gone): the rejection no longer applies, the limits decide again.
    await t.store.updateUser(u2!, (u) => ({ ...u.data, active: true }), { actor: 'test' });
    await t.reconciler.runOnce({ trigger: 'schedule' });
    expect(await heldDecisionsKey.read(t.state)).toBeUndefined(); // the last decision dropped: the key is deleted
    await t.deactivate(u2!);
    const again = await t.reconciler.runOnce({ trigger: 'schedule' });
    expect(again.verdict.held.map((a) => 'username' in a && a.username).sort()).toEqual(['u2', 'u3', 'u4']);
  });

  test('a block, a change of its held set and its release are each announced once (webhook hook)', async () => {
    const events: BlockEvent[] = [];
    const t = setup(undefined, undefined, { onBlockChange: (e) => events.push(e) });
    const ids = await t.addUsers(['u1', 'u2', 'u3']);
    await t.reconciler.runOnce({ trigger: 'startup' });
    for (const id of ids) await t.deactivate(id);
    await t.reconciler.runOnce({ trigger: 'change' });
    await t.reconciler.runOnce({ trigger: 'schedule' }); // same held set: no second message
    expect(events).toEqual([{ kind: 'blocked', reason: expect.stringContaining('held'), held: ['u1', 'u2', 'u3'] }]);
    await t.reconciler.runOnce({ trigger: 'cli', allowMassDeprovision: true });
    expect(events.map((e) => e.kind)).toEqual(['blocked', 'released']);
  });

  test('limits count across runs: one-at-a-time deprovisions trip the window, which then slides', async () => {
    const t = setup();
    const ids = await t.addUsers(['u1', 'u2', 'u3', 'u4']);
    await t.reconciler.runOnce({ trigger: 'startup' });
    const results: string[] = [];
    for (const id of ids.slice(0, 3)) {
      await t.deactivate(id);
      results.push((await t.reconciler.runOnce({ trigger: 'change' })).result);
      t.clock.advance(60_000);
    }
    expect(results).toEqual(['applied', 'applied', 'blocked']);
    t.clock.advance(3_600_000); // the window has passed
    expect((await t.reconciler.runOnce({ trigger: 'schedule' })).result).toBe('applied');
    expect(t.airflow.peekUser('u3')?.roles).toEqual([]);
  });

  test('partial: one failed action does not stop the rest and is reported as transient', async () => {
    const t = setup();
    t.airflow.failCreate.add('bob');
    await t.addUsers(['alice', 'bob', 'carol']);
    const r = await t.reconciler.runOnce({ trigger: 'change' });
    expect(r.result).toBe('partial');
    expect(r.transient).toBe(true);
    expect(r.outcomes.map((o) => [o.action.kind === 'create-user' && o.action.username, o.ok])).toEqual([['alice', true], ['bob', false], ['carol', true]]);
    expect(r.outcomes[1].error).toContain('500 creating bob');
    // A partial run says why, in the report the log line, status and the CLI show.
    expect(r.error).toBe('1 of 3 action(s) failed; first: create-user bob: 500 creating bob');
    expect(await t.audit.query({ subject: 'bob', source: 'airflow' })).toEqual([expect.objectContaining({ outcome: 'failure', detail: { error: '500 creating bob' } })]);
    expect(await lastSuccessKey.read(t.state)).toBeUndefined();

    t.airflow.failCreate.clear();
    const again = await t.reconciler.runOnce({ trigger: 'schedule' });
    expect(again.plan.actions.map((a) => a.kind === 'create-user' && a.username)).toEqual(['bob']);
    expect(again.result).toBe('applied');
  });

  test('failed: Airflow unreachable before apply', async () => {
    const t = setup();
    await t.addUsers(['alice']);
    t.airflow.failNext(new AirflowError('unreachable', 'connect ECONNREFUSED 127.0.0.1:8080'));
    const r = await t.reconciler.runOnce({ trigger: 'change' });
    expect(r).toMatchObject({ result: 'failed', transient: true, error: 'connect ECONNREFUSED 127.0.0.1:8080', outcomes: [] });
    expect(t.writes()).toEqual([]);
    expect(await t.state.lastRun()).toMatchObject({ result: 'failed' });
  });

  test('delete mode deletes and disowns; stale ownership of users deleted elsewhere is dropped', async () => {
    const t = setup({ deprovision: 'delete' });
    const [a] = await t.addUsers(['alice', 'bob']);
    await t.reconciler.runOnce({ trigger: 'startup' });
    await t.deactivate(a);
    await t.airflow.deleteUser('bob'); // someone deleted bob by hand: the scheduled full read sees it
    const r = await t.reconciler.runOnce({ trigger: 'schedule' });
    expect(r.plan.actions.map((x) => `${x.kind} ${'username' in x ? x.username : ''}`)).toEqual(['create-user bob', 'deprovision-user alice']);
    expect(t.airflow.peekUser('alice')).toBeUndefined();
    expect((await t.state.owned()).map((o) => o.username)).toEqual(['bob']);
  });

  test('a change run reads fresh only the users whose wanted state changed (no page reads), and plans from that', async () => {
    const t = setup({ safety: { maxDeprovisions: 100, maxDeprovisionPercent: 100 } });
    const [a, b] = await t.addUsers(['alice', 'bob', 'carl']);
    await t.reconciler.runOnce({ trigger: 'startup' });
    const from = t.airflow.log.length;
    await t.deactivate(a);
    const r1 = await t.reconciler.runOnce({ trigger: 'change' });
    expect(r1.result).toBe('applied');
    expect(t.airflow.log.slice(from)).toEqual(['getUser alice', 'listRoles', 'updateUser alice']);
    expect(t.airflow.peekUser('alice')?.roles).toEqual([]);
    // Level-based for what it touches: a hand-made change to bob is seen by the run that touches bob.
    await t.airflow.updateUser('bob', { roles: ['Op'] });
    await t.deactivate(b);
    const from2 = t.airflow.log.length;
    const r2 = await t.reconciler.runOnce({ trigger: 'change' });
    expect(r2.plan.actions).toEqual([expect.objectContaining({ kind: 'deprovision-user', username: 'bob', rolesBefore: ['Op'] })]);
    expect(t.airflow.log.slice(from2)).toEqual(['getUser bob', 'listRoles', 'updateUser bob']);
    // The safety percentage still counts every managed account (3), not the one read.
    expect(r2.plan.managedUsers).toBe(3);
    // Drift made by hand elsewhere is undone by the scheduled run, which reads everything.
    await t.airflow.updateUser('carl', { roles: ['Viewer'] });
    expect((await t.reconciler.runOnce({ trigger: 'change' })).plan.actions).toEqual([]);
    const r3 = await t.reconciler.runOnce({ trigger: 'schedule' });
    expect(r3.plan.actions.map((x) => `${x.kind} ${'username' in x ? x.username : ''}`)).toEqual(['update-user carl']);
    expect(t.airflow.peekUser('carl')?.roles).toEqual(['User']);
  });

  test('a change run that would take Admin from someone reads every account first (the last-Admin rule needs them all)', async () => {
    const t = setup({ roles: { mappings: [{ group: 'airflow-admins', roles: ['Admin'] }] }, safety: { protectedUsers: [], maxDeprovisions: 100, maxDeprovisionPercent: 100 } }, []);
    const [ann, ben] = await t.addUsers(['ann', 'ben'], 'airflow-admins');
    await t.reconciler.runOnce({ trigger: 'startup' });
    await t.deactivate(ann!);
    const from = t.airflow.log.length;
    const r1 = await t.reconciler.runOnce({ trigger: 'change' });
    expect(t.airflow.log.slice(from)).toContain('listUsers');
    expect(r1.plan.actions).toEqual([expect.objectContaining({ kind: 'deprovision-user', username: 'ann', adminRemoval: true })]);
    // ben is now the last Admin: a targeted view would not know that; the full read does, and spares him.
    await t.deactivate(ben!);
    const r2 = await t.reconciler.runOnce({ trigger: 'change' });
    expect(r2.plan.actions).toEqual([]);
    expect(r2.plan.drift).toContainEqual(expect.objectContaining({ kind: 'protected', username: 'ben', note: expect.stringContaining('last user holding Admin') }));
    expect(t.airflow.peekUser('ben')?.roles).toEqual(['Admin']);
  });

  test('after a failed action the next change run tries it again', async () => {
    const t = setup();
    const [a, b] = await t.addUsers(['alice', 'bob']);
    await t.reconciler.runOnce({ trigger: 'startup' });
    await t.deactivate(a);
    t.airflow.failUpdate.add('alice');
    expect((await t.reconciler.runOnce({ trigger: 'change' })).result).toBe('partial');
    await t.deactivate(b);
    const r = await t.reconciler.runOnce({ trigger: 'change' });
    expect(r.plan.actions.map((x) => `${x.kind} ${'username' in x ? x.username : ''}`).sort()).toEqual(['deprovision-user alice', 'deprovision-user bob']);
    expect(t.airflow.peekUser('alice')?.roles).toEqual([]);
    expect(t.airflow.peekUser('bob')?.roles).toEqual([]);
  });

  test('concurrent runs never overlap: the second waits and runs on fresh state', async () => {
    const t = setup();
    await t.addUsers(['alice']);
    const [r1, r2] = await Promise.all([t.reconciler.runOnce({ trigger: 'change' }), t.reconciler.runOnce({ trigger: 'change' })]);
    expect([r1.result, r2.result]).toEqual(['applied', 'nothing-to-do']);
    expect(t.writes()).toEqual(['createUser alice']);
  });

  test('drift is reported per kind, zeros included', async () => {
    const t = setup({ roles: { mappings: [{ group: 'airflow-users', roles: ['Ghost'] }] } });
    await t.addUsers(['alice']);
    await t.reconciler.runOnce({ trigger: 'change' });
    expect(t.seen.drift).toEqual({ 'extra-permissions': 0, 'email-clash': 0, 'unknown-role': 1, 'unavailable-role': 0, protected: 0, unowned: 0, 'username-collision': 0, 'awaiting-login': 0 });
  });
});
