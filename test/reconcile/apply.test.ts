import type { RunReport } from '../../src/reconcile/types';
import { AirflowError, type AirflowUserChange, type NewAirflowUser, type AirflowUser, type AirflowRole } from '../../src/airflow/types';
import { ManualClock } from '../../src/core/clock';
import { applyActions, randomPassword } from '../../src/reconcile/apply';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import type { Action } from '../../src/reconcile/types';
import { MemoryAirflowClient } from '../../src/airflow/memory-client';
import { MemoryAuditLog } from '../../src/store/memory-audit';
import { airflowUser, desiredUser } from './helpers';

/** Tracks how many calls are in flight at once (the contract-tested memory client underneath). */
class SlowAirflow extends MemoryAirflowClient {
  inFlight = 0;
  maxInFlight = 0;
  order: string[] = [];
  private async slow<T>(label: string, fn: () => Promise<T>): Promise<T> {
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    await new Promise((r) => setTimeout(r, 5));
    this.inFlight--;
    this.order.push(label);
    return fn();
  }
  override createUser(u: NewAirflowUser): Promise<AirflowUser> {
    return this.slow(`create ${u.username}`, () => super.createUser(u));
  }
  override updateUser(n: string, c: AirflowUserChange): Promise<AirflowUser> {
    return this.slow(`update ${n}`, () => super.updateUser(n, c));
  }
  override createRole(r: AirflowRole): Promise<void> {
    return this.slow(`create-role ${r.name}`, () => super.createRole(r));
  }
}

const create = (u: string, roles = ['Viewer']): Action => ({ kind: 'create-user', username: u, user: desiredUser(u, roles), reason: 'r' });

describe('applyActions', () => {
  test('bounded concurrency, roles before users before deprovisions, progress reported', async () => {
    const airflow = new SlowAirflow({ users: [airflowUser('old', ['Viewer'])] });
    const state = new MemoryReconcileState<RunReport>();
    const actions: Action[] = [
      { kind: 'deprovision-user', username: 'old', mode: 'strip-roles', rolesBefore: ['Viewer'], adminRemoval: false, reason: 'gone' },
      ...['a', 'b', 'c', 'd', 'e'].map((u) => create(u, ['custom'])),
      { kind: 'create-role', role: 'custom', permissions: [['can_read', 'DAGs']], reason: 'r' },
    ];
    const progress: string[] = [];
    const outcomes = await applyActions(actions, { airflow, state, audit: new MemoryAuditLog(), clock: new ManualClock(), concurrency: 2 }, (d, t) => progress.push(`${d}/${t}`));
    expect(outcomes.map((o) => o.ok)).toEqual(Array(7).fill(true));
    expect(outcomes.map((o) => o.action)).toEqual(actions); // outcomes in the order given
    expect(airflow.maxInFlight).toBe(2);
    expect(airflow.order[0]).toBe('create-role custom');
    expect(airflow.order[airflow.order.length - 1]).toBe('update old');
    expect(progress).toEqual(['1/7', '2/7', '3/7', '4/7', '5/7', '6/7', '7/7']);
  });

  test('strip-roles empties roles and rotates the password; ownership is kept for a later reactivation', async () => {
    const airflow = new MemoryAirflowClient({ users: [airflowUser('bob', ['User', 'Admin'])] });
    const state = new MemoryReconcileState<RunReport>();
    const clock = new ManualClock();
    await state.own('bob', 'created', 's1', clock.now());
    const audit = new MemoryAuditLog();
    await applyActions([{ kind: 'deprovision-user', username: 'bob', mode: 'strip-roles', rolesBefore: ['Admin', 'User'], adminRemoval: true, reason: 'inactive' }], { airflow, state, audit, clock, concurrency: 4 });
    expect(airflow.peekUser('bob')?.roles).toEqual([]);
    expect(airflow.peekPassword('bob')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await state.owned()).map((o) => o.username)).toEqual(['bob']);
    expect(await state.countDeprovisionsSince(new Date(0))).toBe(1);
    expect(await audit.query({})).toEqual([
      expect.objectContaining({ source: 'airflow', actor: 'reconciler', subject: 'bob', action: 'deprovision-user', outcome: 'success', detail: { before: { roles: ['Admin', 'User'] }, after: { roles: [] }, mode: 'strip-roles' } }),
    ]);
  });

  test('delete tolerates an already-deleted user; an admin-removing update is counted', async () => {
    const airflow = new MemoryAirflowClient({ users: [airflowUser('ann', ['Admin'])] });
    const state = new MemoryReconcileState<RunReport>();
    await state.own('ghost', 'created', null, new Date());
    const outcomes = await applyActions(
      [
        { kind: 'update-user', username: 'ann', changes: { roles: { before: ['Admin'], after: ['Viewer'] } }, reason: 'r', adminRemoval: true },
        { kind: 'deprovision-user', username: 'ghost', mode: 'delete', rolesBefore: [], adminRemoval: false, reason: 'gone' },
      ],
      { airflow, state, audit: new MemoryAuditLog(), clock: new ManualClock(), concurrency: 1 },
    );
    expect(outcomes.map((o) => o.ok)).toEqual([true, true]);
    expect(airflow.peekUser('ann')?.roles).toEqual(['Viewer']);
    expect(await state.owned()).toEqual([]);
    expect(await state.countDeprovisionsSince(new Date(0))).toBe(2);
  });

  test('errors are per action and marked transient only for transient Airflow errors', async () => {
    const airflow = new MemoryAirflowClient();
    airflow.failNext(new AirflowError('server', 'injected failure for x', 500));
    const outcomes = await applyActions([create('x'), create('y', ['Nope']), create('z')], { airflow, state: new MemoryReconcileState<RunReport>(), audit: new MemoryAuditLog(), clock: new ManualClock(), concurrency: 1 });
    expect(outcomes.map((o) => [o.ok, o.transient, o.errorKind])).toEqual([[false, true, 'server'], [false, false, 'bad-request'], [true, undefined, undefined]]);
    expect(airflow.peekUser('z')).toBeDefined();
  });

  test('ownership is recorded before the create (the intent) and dropped when Airflow refuses; kept when no answer came', async () => {
    const airflow = new MemoryAirflowClient({ users: [airflowUser('taken', ['Viewer'])] });
    const state = new MemoryReconcileState<RunReport>();
    const ownedDuringCreate: string[][] = [];
    const watch = airflow.createUser.bind(airflow);
    airflow.createUser = async (u) => {
      ownedDuringCreate.push((await state.owned()).map((o) => o.username));
      return watch(u);
    };
    airflow.failNext(new AirflowError('server', 'injected 500', 500));
    airflow.failNext(new AirflowError('unreachable', 'socket hang up'));
    const deps = { airflow, state, audit: new MemoryAuditLog(), clock: new ManualClock(), concurrency: 1 };
    const outcomes = await applyActions([create('refused'), create('lost'), create('taken'), create('fine')], deps);
    expect(outcomes.map((o) => ['username' in o.action ? o.action.username : '', o.ok, o.errorKind])).toEqual([
      ['refused', false, 'server'],
      ['lost', false, 'unreachable'],
      ['taken', false, 'conflict'],
      ['fine', true, undefined],
    ]);
    expect(ownedDuringCreate).toEqual([['refused'], ['lost'], ['lost', 'taken'], ['fine', 'lost']]);
    // A 5xx and a 409 are answers: nothing of ours exists, so no ownership; "taken" stays someone else's account.
    expect((await state.owned()).map((o) => [o.username, o.how])).toEqual([['fine', 'created'], ['lost', 'created']]);
  });

  test('once the run lock may have passed to another process (signal aborted), no further action is attempted', async () => {
    const airflow = new MemoryAirflowClient();
    const lock = new AbortController();
    const deps = { airflow, state: new MemoryReconcileState<RunReport>(), audit: new MemoryAuditLog(), clock: new ManualClock(), concurrency: 1, signal: lock.signal };
    const outcomes = await applyActions([create('a'), create('b'), create('c')], deps, (done) => {
      if (done === 1) lock.abort(new Error('the reconcile lease was taken by another process'));
    });
    expect(outcomes.map((o) => [o.ok, o.transient])).toEqual([[true, undefined], [false, true], [false, true]]);
    expect(outcomes[1].error).toBe('not attempted: the reconcile lease was taken by another process');
    expect(airflow.log.filter((l) => l.startsWith('createUser'))).toEqual(['createUser a']);
  });

  test('random passwords are 32 random bytes, base64url', () => {
    const a = randomPassword();
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(a).not.toBe(randomPassword());
  });
});
