import type { RunReport } from '../../src/reconcile/types';
import { createAirflowClient } from '../../src/airflow/detect';
import { configSchema } from '../../src/config/schema';
import { systemClock } from '../../src/core/clock';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import { silentLogger } from '../../src/logger';
import { Reconciler } from '../../src/reconcile/reconciler';
import { SqlReconcileState } from '../../src/store/sql/reconcile-state';
import { openDatabase } from '../../src/store/database';
import { SqlAuditLog } from '../../src/store/sql/audit';
import { SqlIdentityStore } from '../../src/store/sql/identity';
import { sqliteDriverFor } from '../../src/store/sql/sqlite-driver';

const ctx = { actor: 'test' };

describe.each([2, 3] as const)('end to end against the fake Airflow %s.x over HTTP', (version) => {
  let fake: FakeAirflow;
  beforeEach(async () => {
    fake = await startFakeAirflow({ version });
  });
  afterEach(async () => {
    await fake.close();
  });

  test('create, custom role, strip on deactivation, restore on reactivation, then nothing to do', async () => {
    const db = openDatabase(':memory:');
    const audit = new SqlAuditLog(sqliteDriverFor(db));
    const store = new SqlIdentityStore(sqliteDriverFor(db));
    const state = new SqlReconcileState<RunReport>(sqliteDriverFor(db));
    const config = configSchema.parse({
      airflow: { url: fake.url, apiUser: 'admin', apiPassword: 'admin', apiVersion: String(version), retries: 0 },
      roles: {
        mappings: [{ group: 'airflow-users', roles: ['User', 'dag-readers'] }],
        custom: { 'dag-readers': { permissions: [['can_read', 'DAGs']] } },
      },
    });
    const airflow = createAirflowClient(config.airflow, silentLogger());
    const reconciler = new Reconciler({ store, airflow, state, audit, config, clock: systemClock, logger: silentLogger() });

    const alice = await store.createUser({ userName: 'alice', active: true, name: { givenName: 'Alice', familyName: 'A' }, emails: [{ value: 'alice@corp.io', primary: true }] }, ctx);
    await store.createGroup({ displayName: 'airflow-users' }, [alice.id], ctx);

    const first = await reconciler.runOnce({ trigger: 'startup' });
    expect(first.outcomes.filter((o) => !o.ok)).toEqual([]);
    expect(first.result).toBe('applied');
    const created = (await airflow.listUsers()).find((u) => u.username === 'alice');
    expect(created).toMatchObject({ email: 'alice@corp.io', firstName: 'Alice', lastName: 'A' });
    expect([...created!.roles].sort()).toEqual(['User', 'dag-readers']);

    await store.updateUser(alice.id, (u) => ({ ...u.data, active: false }), ctx);
    expect((await reconciler.runOnce({ trigger: 'change' })).result).toBe('applied');
    expect((await airflow.listUsers()).find((u) => u.username === 'alice')?.roles).toEqual([]);

    await store.updateUser(alice.id, (u) => ({ ...u.data, active: true }), ctx);
    await reconciler.runOnce({ trigger: 'change' });
    expect((await airflow.listUsers()).find((u) => u.username === 'alice')?.roles.sort()).toEqual(['User', 'dag-readers']);

    const last = await reconciler.runOnce({ trigger: 'schedule' });
    expect(last.result).toBe('nothing-to-do');
    expect(await state.lastRun()).toMatchObject({ result: 'nothing-to-do', id: 4 });
    db.close();
  });
});
