/**
 * A real Airflow killed in the middle of an apply (SIGKILL of the whole server process group), then started again:
 * the reconciler converges with every account present once, with the right roles, and nothing else created.
 */
import { silentLogger } from '../../src/logger';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import { Reconciler } from '../../src/reconcile/reconciler';
import type { RunReport } from '../../src/reconcile/types';
import { buildTestApp, CORE_USER } from '../helpers/scim-app';
import { clientFor, configFor } from './clients';
import { countRows, resetAirflow } from './db';
import { BREAK_GLASS, runningServers, SERVICE_ACCOUNT, start, stop } from './server';
import { viaRest } from './witness';

const N = 120;

for (const s of runningServers()) {
  describe(s.target.label, () => {
    afterAll(() => resetAirflow(s));

    test(`Airflow killed while ${N} accounts are being created, then restarted: converges, nothing lost, nothing duplicated`, async () => {
      resetAirflow(s);
      const scim = await buildTestApp({ backend: 'sqlite' });
      try {
        const ids: string[] = [];
        for (let i = 0; i < N; i++) {
          const n = `crash${String(i).padStart(3, '0')}`;
          const r = await scim.scim.post('/Users').send({ schemas: [CORE_USER], userName: n, active: true, name: { givenName: n, familyName: 'Crash' }, emails: [{ value: `${n}@corp.example`, primary: true }] });
          ids.push(r.body.id as string);
        }
        await scim.scim.post('/Groups').send({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'airflow-viewers', members: ids.map((value) => ({ value })) });
        const config = configFor(s, { retries: 1, timeout: '5s' }, {
          roles: { mappings: [{ group: 'airflow-viewers', roles: ['Viewer'] }] },
          safety: { protectedUsers: [BREAK_GLASS.username], maxDeprovisions: 1000, maxDeprovisionPercent: 100 },
        });
        const reconciler = new Reconciler({ store: scim.store, airflow: clientFor(s, { retries: 1, timeout: '5s' }), state: new MemoryReconcileState<RunReport>(), audit: scim.audit, config, clock: scim.clock, logger: silentLogger() });

        const baseline = countRows(s, 'ab_user');
        let finished: RunReport | undefined;
        const running = reconciler.runOnce({ trigger: 'cli' }).then((r) => (finished = r));
        const deadline = Date.now() + 120_000;
        while (countRows(s, 'ab_user') - baseline < N / 4) {
          if (finished) throw new Error(`the run ended before a quarter of the creates: ${finished.result} ${finished.error ?? JSON.stringify(finished.outcomes.find((o) => !o.ok))}`);
          if (Date.now() > deadline) throw new Error('no progress within 120 s');
          await new Promise((r) => setTimeout(r, 20));
        }
        await stop(s, 'SIGKILL');
        const interrupted = await running;
        const createdBeforeKill = countRows(s, 'ab_user') - baseline;
        expect(interrupted.result).not.toBe('applied');
        expect(createdBeforeKill).toBeLessThan(N);

        await start(s);
        const reports: RunReport[] = [];
        for (let i = 0; i < 5; i++) {
          const r = await reconciler.runOnce({ trigger: 'schedule' });
          reports.push(r);
          if (r.result === 'nothing-to-do') break;
        }
        expect(reports.at(-1)?.result).toBe('nothing-to-do');
        const seen = await viaRest(s);
        const crash = [...seen.users.values()].filter((u) => u.username.startsWith('crash'));
        expect(crash).toHaveLength(N);
        expect(new Set(crash.map((u) => u.username.toLowerCase())).size).toBe(N);
        expect(crash.every((u) => JSON.stringify(u.roles) === '["Viewer"]')).toBe(true);
        expect([...seen.users.keys()].filter((u) => !u.startsWith('crash')).sort()).toEqual([BREAK_GLASS.username, SERVICE_ACCOUNT.username].sort());
      } finally {
        await scim.close();
        await stop(s);
        await start(s);
      }
    });
  });
}
