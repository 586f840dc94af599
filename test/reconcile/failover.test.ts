/**
 * A leader that dies in the middle of an apply step, and the leader after it: two Reconcilers on one state, one
 * identity store and one Airflow, as two replicas on one database. The first one's Airflow client creates some
 * accounts and then never answers again (the process was killed while its requests were in flight).
 */
import type { RunReport } from '../../src/reconcile/types';
import { MemoryAirflowClient } from '../../src/airflow/memory-client';
import type { AirflowUser, NewAirflowUser } from '../../src/airflow/types';
import { configSchema } from '../../src/config/schema';
import { ManualClock } from '../../src/core/clock';
import { silentLogger } from '../../src/logger';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import { Reconciler } from '../../src/reconcile/reconciler';
import { MemoryAuditLog } from '../../src/store/memory-audit';
import { MemoryIdentityStore } from '../../src/store/memory-identity';

const ctx = { actor: 'test' };

/** Airflow as the dying leader sees it: after `survive` creates, each create reaches Airflow but its answer never comes. */
class DyingView extends MemoryAirflowClient {
  constructor(
    private readonly real: MemoryAirflowClient,
    private survive: number,
  ) {
    super();
  }
  override listUsers(): Promise<AirflowUser[]> {
    return this.real.listUsers();
  }
  override getUser(username: string): Promise<AirflowUser | null> {
    return this.real.getUser(username);
  }
  override async createUser(user: NewAirflowUser): Promise<AirflowUser> {
    const created = await this.real.createUser(user);
    if (this.survive-- > 0) return created;
    return new Promise<AirflowUser>(() => undefined); // killed: the response is never read
  }
}

function world() {
  const clock = new ManualClock();
  const audit = new MemoryAuditLog();
  let n = 0;
  const store = new MemoryIdentityStore(audit, clock, () => `id-${++n}`);
  const airflow = new MemoryAirflowClient({ users: [{ username: 'admin', email: 'admin@local', firstName: 'A', lastName: 'D', roles: ['Admin'], active: true }] });
  const state = new MemoryReconcileState<RunReport>();
  const config = configSchema.parse({
    airflow: { apiUser: 'svc', concurrency: 2 },
    roles: { mappings: [{ group: 'eng', roles: ['User'] }] },
    safety: { protectedUsers: ['admin'], maxDeprovisions: 100, maxDeprovisionPercent: 100 },
  });
  const replica = (client: MemoryAirflowClient) => new Reconciler({ store, airflow: client, state, audit, config, clock, logger: silentLogger(), newPassword: () => 'pw' });
  const addUsers = async (names: string[]) => {
    const ids: string[] = [];
    for (const u of names) ids.push((await store.createUser({ userName: u, active: true, emails: [{ value: `${u}@corp.io`, primary: true }], name: { givenName: u, familyName: 'X' } }, ctx)).id);
    await store.createGroup({ displayName: 'eng' }, ids, ctx);
    return ids;
  };
  return { store, airflow, state, replica, addUsers };
}

const creates = (airflow: MemoryAirflowClient) => airflow.log.filter((l) => l.startsWith('createUser'));

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 1000) throw new Error('condition not met');
    await new Promise((r) => setImmediate(r));
  }
}

describe('a leader killed in the middle of an apply step', () => {
  test('the next leader creates only what is missing, once, and owns what the dead one created (as created, not adopted)', async () => {
    const w = world();
    const names = Array.from({ length: 10 }, (_, i) => `user${i}`);
    await w.addUsers(names);
    void w.replica(new DyingView(w.airflow, 3)).runOnce({ trigger: 'startup' });
    // Concurrency 2: three answered creates, then two that reached Airflow and were never answered.
    await until(() => creates(w.airflow).length === 5);
    const next = await w.replica(w.airflow).runOnce({ trigger: 'startup' });
    expect(next.result).toBe('applied');
    expect(next.plan.actions.map((a) => a.kind)).toEqual(Array(5).fill('create-user'));
    expect(creates(w.airflow).sort()).toEqual(names.map((u) => `createUser ${u}`).sort()); // each exactly once
    expect((await w.state.owned()).map((o) => [o.username, o.how])).toEqual(names.map((u) => [u, 'created']));
    expect((await w.replica(w.airflow).runOnce({ trigger: 'schedule' })).result).toBe('nothing-to-do');
  });

  test('an account created just before the kill is still deprovisioned when the IdP drops the user meanwhile', async () => {
    const w = world();
    const [id] = await w.addUsers(['carol']);
    void w.replica(new DyingView(w.airflow, 0)).runOnce({ trigger: 'startup' });
    await until(() => creates(w.airflow).length === 1);
    expect(w.airflow.peekUser('carol')?.roles).toEqual(['User']);
    // Without the ownership recorded before the create, carol's account would be "unowned" drift from now on,
    // left with its roles by every run.
    await w.store.updateUser(id, (u) => ({ ...u.data, active: false }), ctx);
    const next = await w.replica(w.airflow).runOnce({ trigger: 'startup' });
    expect(next.plan.actions.map((a) => `${a.kind} ${'username' in a ? a.username : ''}`)).toEqual(['deprovision-user carol']);
    expect(next.plan.drift.filter((d) => d.kind === 'unowned')).toEqual([]);
    expect(w.airflow.peekUser('carol')?.roles).toEqual([]);
  });

  test('a leader killed after recording the intent but before its create reached Airflow: the next leader creates the account', async () => {
    const w = world();
    await w.addUsers(['dave']);
    const never = new (class extends MemoryAirflowClient {
      override listUsers(): Promise<AirflowUser[]> {
        return w.airflow.listUsers();
      }
      override createUser(): Promise<AirflowUser> {
        return new Promise<AirflowUser>(() => undefined); // killed before the request left
      }
    })();
    void w.replica(never).runOnce({ trigger: 'startup' });
    await until(() => never.log.length > 0 || w.airflow.log.includes('listUsers'));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect((await w.state.owned()).map((o) => o.username)).toEqual(['dave']); // the intent, no account yet
    const next = await w.replica(w.airflow).runOnce({ trigger: 'startup' });
    expect(next.result).toBe('applied');
    expect(creates(w.airflow)).toEqual(['createUser dave']);
    expect((await w.state.owned()).map((o) => [o.username, o.how])).toEqual([['dave', 'created']]);
  });
});
