/**
 * The Airflow client contract (test/contract/airflow-client.contract.ts), unchanged, against each real target: the
 * same suite the fakes and the memory client pass, so the fakes are only as trusted as this run.
 */
import { runAirflowClientContract } from '../contract/airflow-client.contract';
import { clientFor } from './clients';
import { resetAirflow, seedUsers } from './db';
import { runningServers } from './server';

for (const s of runningServers()) {
  runAirflowClientContract(`real ${s.target.label}`, async () => {
    resetAirflow(s);
    return {
      client: clientFor(s),
      rolePatch: s.target.rolePatch,
      seedUsers: async (n, prefix) => seedUsers(s, n, prefix),
      teardown: async () => resetAirflow(s),
    };
  });
}
