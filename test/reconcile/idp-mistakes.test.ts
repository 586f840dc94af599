import type { RunReport } from '../../src/reconcile/types';
import { MemoryAirflowClient } from '../../src/airflow/memory-client';
import type { AirflowUser } from '../../src/airflow/types';
import { configSchema, type ConfigInput } from '../../src/config/schema';
import { ManualClock } from '../../src/core/clock';
import { silentLogger } from '../../src/logger';
import { explainUser } from '../../src/reconcile/explain';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import { Reconciler, type ReconcileMetrics } from '../../src/reconcile/reconciler';
import { MemoryAuditLog } from '../../src/store/memory-audit';
import { MemoryIdentityStore } from '../../src/store/memory-identity';
import type { IdentityStore } from '../../src/store/types';

/** IdP mistakes the safety step must catch (issue 11), end to end through Reconciler.runOnce. */
const ctx = { actor: 'test' };
const ADMIN: AirflowUser = { username: 'admin', email: 'admin@local', firstName: 'A', lastName: 'D', roles: ['Admin'], active: true };

function setup(cfg: ConfigInput = {}) {
  const clock = new ManualClock();
  const audit = new MemoryAuditLog();
  let n = 0;
  const store: IdentityStore = new MemoryIdentityStore(audit, clock, () => `id-${++n}`);
  const airflow = new MemoryAirflowClient({ users: [ADMIN] });
  const state = new MemoryReconcileState<RunReport>();
  const config = configSchema.parse({
    airflow: { apiUser: 'svc', concurrency: 2 },
    roles: { mappings: [{ group: 'airflow-users', roles: ['User'] }, { group: 'airflow-admins', roles: ['Admin'] }, { group: 'airflow-ops', roles: ['Op'] }] },
    safety: { protectedUsers: ['admin'], maxDeprovisions: 10, maxDeprovisionPercent: 100, window: '1h' },
    ...cfg,
  });
  const drift: Record<string, number> = {};
  const metrics: ReconcileMetrics = { onDrift: (k, c) => (drift[k] = c) };
  const reconciler = new Reconciler({ store, airflow, state, audit, config, clock, logger: silentLogger(), metrics, newPassword: () => 'pw' });
  const user = async (userName: string, extra: Record<string, unknown> = {}) =>
    (await store.createUser({ userName, active: true, emails: [{ value: userName.includes('@') ? userName : `${userName}@corp.io`, primary: true }], ...extra } as never, ctx)).id;
  return { clock, audit, store, airflow, state, config, reconciler, drift, user };
}

describe('role removals count against the safety window', () => {
  test('removing the group assignment that gave 40 users their mapped role (default Viewer) is held, not applied', async () => {
    const t = setup({ roles: { mappings: [{ group: 'data-engineers', roles: ['User'] }], default: ['Viewer'] } });
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await t.user(`u${i}`));
    const g = await t.store.createGroup({ displayName: 'data-engineers' }, ids, ctx);
    expect((await t.reconciler.runOnce({ trigger: 'startup' })).result).toBe('applied');
    expect(t.airflow.peekUser('u0')?.roles).toEqual(['User', 'Viewer']);

    await t.store.updateGroup(g.id, () => ({ memberOps: [{ op: 'removeAll' }] }), ctx);
    const r = await t.reconciler.runOnce({ trigger: 'change' });
    expect(r.result).toBe('blocked');
    expect(r.verdict.held).toHaveLength(40);
    expect(r.verdict.blocked?.reason).toMatch(/40 deprovision\(s\)\/role removal\(s\) held/);
    expect(t.airflow.peekUser('u0')?.roles).toEqual(['User', 'Viewer']);
    const released = await t.reconciler.runOnce({ trigger: 'cli', allowMassDeprovision: true });
    expect(released.result).toBe('applied');
    expect(t.airflow.peekUser('u0')?.roles).toEqual(['Viewer']);
    expect(await t.state.countDeprovisionsSince(new Date(0))).toBe(40);
  });

  test('a pure downgrade counts; moving between mapped groups does not', async () => {
    const t = setup({ safety: { protectedUsers: ['admin'], maxDeprovisions: 1, maxDeprovisionPercent: 100, window: '1h' } });
    const a = await t.user('a');
    const b = await t.user('b');
    const c = await t.user('c');
    const users = await t.store.createGroup({ displayName: 'airflow-users' }, [a, b, c], ctx);
    const ops = await t.store.createGroup({ displayName: 'airflow-ops' }, [a, b], ctx);
    await t.reconciler.runOnce({ trigger: 'startup' });
    // a: [Op, User] -> [User] (downgrade, counts). c: [User] -> [Op] (a move, does not count).
    await t.store.updateGroup(ops.id, () => ({ memberOps: [{ op: 'remove', ids: [a] }, { op: 'add', ids: [c] }] }), ctx);
    await t.store.updateGroup(users.id, () => ({ memberOps: [{ op: 'remove', ids: [c] }] }), ctx);
    const r = await t.reconciler.runOnce({ trigger: 'change' });
    expect(r.result).toBe('applied');
    expect(t.airflow.peekUser('a')?.roles).toEqual(['User']);
    expect(t.airflow.peekUser('c')?.roles).toEqual(['Op']);
    expect(await t.state.countDeprovisionsSince(new Date(0))).toBe(1);
    // b: [Op, User] -> [User]: a second downgrade within the hour exceeds maxDeprovisions 1.
    await t.store.updateGroup(ops.id, () => ({ memberOps: [{ op: 'remove', ids: [b] }] }), ctx);
    const r2 = await t.reconciler.runOnce({ trigger: 'change' });
    expect(r2.result).toBe('blocked');
    expect(t.airflow.peekUser('b')?.roles.sort()).toEqual(['Op', 'User']);
  });
});

describe('an Airflow account stays bound to one SCIM identity', () => {
  const cfg: ConfigInput = { airflow: { apiUser: 'svc', username: '{emailLocalPart}' } };

  test('alice@b never inherits the account of deactivated alice@a: collision in plan, status drift, metric and audit until released', async () => {
    const t = setup(cfg);
    const a = await t.user('alice@a.example', { externalId: 'okta-a' });
    const admins = await t.store.createGroup({ displayName: 'airflow-admins' }, [a], ctx);
    await t.reconciler.runOnce({ trigger: 'startup' });
    expect((await t.state.owned()).find((o) => o.username === 'alice')).toMatchObject({ scimUserId: a, externalId: 'okta-a' });

    await t.store.updateUser(a, (u) => ({ ...u.data, active: false }), ctx);
    const b = await t.user('alice@b.example', { externalId: 'okta-b' });
    await t.store.updateGroup(admins.id, () => ({ memberOps: [{ op: 'add', ids: [b] }] }), ctx);
    const r = await t.reconciler.runOnce({ trigger: 'change' });
    // The old identity's account is deprovisioned; nobody else gets it.
    expect(t.airflow.peekUser('alice')).toMatchObject({ email: 'alice@a.example', roles: [] });
    expect(r.plan.actions.map((x) => x.kind)).toEqual(['deprovision-user']);
    const collision = r.plan.drift.find((d) => d.kind === 'username-collision');
    expect(collision).toMatchObject({ username: 'alice', scimUserIds: [a, b] });
    expect(collision?.note).toMatch(/alice@a\.example.*alice@b\.example.*airflow-scim release alice/);
    expect(t.drift['username-collision']).toBe(1);
    expect((await t.audit.query({ source: 'airflow', subject: 'alice' })).filter((e) => e.action === 'username-collision')).toHaveLength(1);
    expect((await explainUser('alice@b.example', { store: t.store, state: t.state, audit: t.audit, config: t.config })).collision).toMatch(/bound to SCIM user .*alice@a\.example/);

    // Nothing changes on later runs, and the collision is audited once.
    const again = await t.reconciler.runOnce({ trigger: 'schedule' });
    expect(again.plan.actions).toEqual([]);
    expect((await t.audit.query({ source: 'airflow', subject: 'alice' })).filter((e) => e.action === 'username-collision')).toHaveLength(1);

    // An admin releases the binding: the next run adopts the account for alice@b.
    await t.state.disown('alice');
    await t.reconciler.runOnce({ trigger: 'cli' });
    expect(t.airflow.peekUser('alice')).toMatchObject({ email: 'alice@b.example', roles: ['Admin'] });
    expect((await t.state.owned()).find((o) => o.username === 'alice')).toMatchObject({ scimUserId: b, externalId: 'okta-b' });
  });

  test('the same person re-created in the IdP (new SCIM id, same externalId) keeps the account', async () => {
    const t = setup(cfg);
    const a = await t.user('alice@a.example', { externalId: 'okta-a' });
    const users = await t.store.createGroup({ displayName: 'airflow-users' }, [a], ctx);
    await t.reconciler.runOnce({ trigger: 'startup' });
    await t.store.deleteUser(a, ctx);
    const again = await t.user('alice@a.example', { externalId: 'okta-a' });
    await t.store.updateGroup(users.id, () => ({ memberOps: [{ op: 'add', ids: [again] }] }), ctx);
    const r = await t.reconciler.runOnce({ trigger: 'change' });
    expect(r.plan.drift.filter((d) => d.kind === 'username-collision')).toEqual([]);
    expect((await t.state.owned()).find((o) => o.username === 'alice')?.scimUserId).toBe(again);
    expect(t.airflow.peekUser('alice')?.roles).toEqual(['User']);
  });

  test('a binding recorded before externalId was kept learns it from its own identity on the next run', async () => {
    const t = setup(cfg);
    const a = await t.user('carol@a.example', { externalId: 'okta-c' });
    await t.store.createGroup({ displayName: 'airflow-users' }, [a], ctx);
    await t.reconciler.runOnce({ trigger: 'startup' });
    await t.state.disown('carol');
    await t.state.own('carol', 'created', a, t.clock.now()); // as written by the previous version
    await t.reconciler.runOnce({ trigger: 'schedule' });
    expect((await t.state.owned()).find((o) => o.username === 'carol')).toMatchObject({ scimUserId: a, externalId: 'okta-c', how: 'created' });
  });

  test('two SCIM users rendering one username: neither is provisioned; plan and explain name both', async () => {
    const t = setup(cfg);
    const a = await t.user('bob@a.example');
    const b = await t.user('bob@b.example');
    await t.store.createGroup({ displayName: 'airflow-users' }, [a, b], ctx);
    const r = await t.reconciler.runOnce({ trigger: 'startup' });
    expect(t.airflow.peekUser('bob')).toBeUndefined();
    const collision = r.plan.drift.find((d) => d.kind === 'username-collision');
    expect(collision).toMatchObject({ username: 'bob', scimUserIds: [a, b] });
    expect(collision?.note).toMatch(/bob@a\.example.*bob@b\.example/);
    const e = await explainUser('bob@b.example', { store: t.store, state: t.state, audit: t.audit, config: t.config });
    expect(e.excludedReason).toMatch(/bob@a\.example.*bob@b\.example/);
    expect(t.drift['username-collision']).toBe(1);
  });
});
