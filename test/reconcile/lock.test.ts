import type { RunReport } from '../../src/reconcile/types';
import { MemoryAirflowClient } from '../../src/airflow/memory-client';
import { configSchema } from '../../src/config/schema';
import { ManualClock } from '../../src/core/clock';
import { silentLogger } from '../../src/logger';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import { Reconciler, type RunLock } from '../../src/reconcile/reconciler';
import { MemoryAuditLog } from '../../src/store/memory-audit';
import { MemoryIdentityStore } from '../../src/store/memory-identity';

const ctx = { actor: 'test' };

/** Two reconcilers on one state, as the service and a CLI run are two processes on one database. */
function world() {
  const clock = new ManualClock();
  const audit = new MemoryAuditLog();
  let n = 0;
  const store = new MemoryIdentityStore(audit, clock, () => `id-${++n}`);
  const airflow = new MemoryAirflowClient({ users: [{ username: 'admin', email: 'admin@local', firstName: 'A', lastName: 'D', roles: ['Admin'], active: true }] });
  const state = new MemoryReconcileState<RunReport>();
  const config = configSchema.parse({ airflow: { apiUser: 'svc' }, roles: { mappings: [{ group: 'eng', roles: ['User'] }] } });
  const events: string[] = [];
  const lock = (who: string): RunLock => ({
    acquire: async (trigger) => {
      events.push(`${who} acquire ${trigger}`);
      return {
        release: async () => {
          events.push(`${who} release`);
        },
      };
    },
  });
  const make = (who: string, origin: 'service' | 'cli') => new Reconciler({ store, airflow, state, audit, config, clock, logger: silentLogger(), lock: lock(who), origin });
  return { store, airflow, state, events, make };
}

describe('Reconciler with a cross-process lock', () => {
  test('every run holds the lock from before its first read to after its report is saved', async () => {
    const w = world();
    const r = w.make('svc', 'service');
    const report = await r.runOnce({ trigger: 'startup' });
    expect(w.events).toEqual(['svc acquire startup', 'svc release']);
    expect((await w.state.lastRun())?.id).toBe(report.id);
    expect(report.origin).toBe('service');
  });

  test('a lock that refuses fails the call before anything is read or written', async () => {
    const w = world();
    const r = new Reconciler({
      store: w.store,
      airflow: w.airflow,
      state: w.state,
      audit: new MemoryAuditLog(),
      config: configSchema.parse({}),
      clock: new ManualClock(),
      logger: silentLogger(),
      lock: { acquire: async () => Promise.reject(new Error('a reconcile run is in progress')) },
    });
    await expect(r.runOnce({ trigger: 'cli' })).rejects.toThrow(/in progress/);
    expect(w.airflow.log).toEqual([]);
    expect(await w.state.lastRun()).toBeUndefined();
  });

  test("after another process's run, the service's change-triggered run does not plan on its stale cached view", async () => {
    const w = world();
    const service = w.make('svc', 'service');
    const cli = w.make('cli', 'cli');
    await service.runOnce({ trigger: 'startup' }); // full read, cached
    const alice = (await w.store.createUser({ userName: 'alice', active: true, emails: [{ value: 'alice@x.io', primary: true }], name: { givenName: 'a', familyName: 'X' } }, ctx)).id;
    await w.store.createGroup({ displayName: 'eng' }, [alice], ctx);
    const byCli = await cli.runOnce({ trigger: 'cli' });
    expect(byCli.result).toBe('applied');
    const writesBefore = w.airflow.log.filter((l) => l.startsWith('createUser')).length;
    const next = await service.runOnce({ trigger: 'change' });
    expect(next.result).toBe('nothing-to-do');
    expect(w.airflow.log.filter((l) => l.startsWith('createUser')).length).toBe(writesBefore);
  });

  test("a lock whose signal aborts (it may have passed to another process) stops the run's apply step: nothing more is written", async () => {
    const w = world();
    const ids: string[] = [];
    for (const u of ['a', 'b', 'c']) ids.push((await w.store.createUser({ userName: u, active: true, emails: [{ value: `${u}@x.io`, primary: true }], name: { givenName: u, familyName: 'X' } }, ctx)).id);
    await w.store.createGroup({ displayName: 'eng' }, ids, ctx);
    const lost = new AbortController();
    lost.abort(new Error('the reconcile lease was taken by another process'));
    const r = new Reconciler({
      store: w.store, airflow: w.airflow, state: w.state, audit: new MemoryAuditLog(), clock: new ManualClock(), logger: silentLogger(),
      config: configSchema.parse({ airflow: { apiUser: 'svc' }, roles: { mappings: [{ group: 'eng', roles: ['User'] }] } }),
      lock: { acquire: async () => ({ release: async () => undefined, signal: lost.signal }) },
    });
    const report = await r.runOnce({ trigger: 'change' });
    expect(report).toMatchObject({ result: 'partial', transient: true });
    expect(report.outcomes.map((o) => o.error)).toEqual(Array(3).fill('not attempted: the reconcile lease was taken by another process'));
    expect(w.airflow.log.filter((l) => l.startsWith('createUser'))).toEqual([]);
  });
});
