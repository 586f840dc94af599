import type { RunReport } from '../../src/reconcile/types';
/**
 * The recorded Okta and Entra provisioning conversations (test/fixtures/e2e), IdP → SCIM → reconciler → real
 * Airflow. At each checkpoint the reconciler runs, then two witnesses check Airflow: its REST API as the
 * break-glass Admin, and Airflow's own CLI. Users, roles and the custom role's permissions must be exactly what
 * the mapping says; the seed accounts must be untouched; a second run must plan nothing.
 */
import path from 'node:path';
import { silentLogger } from '../../src/logger';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import { Reconciler } from '../../src/reconcile/reconciler';
import { compareCheckpoint, E2E_MAPPINGS, sequenceStep } from '../e2e/harness';
import { buildTestApp, type TestApp } from '../helpers/scim-app';
import { Bindings, discoverSequences } from '../support/replay';
import { supertestSend } from '../support/replay-http';
import { clientFor, configFor } from './clients';
import { resetAirflow } from './db';
import { BREAK_GLASS, runningServers } from './server';
import { viaCli, viaRest } from './witness';

const ROOT = path.join(__dirname, '..', 'fixtures', 'e2e');
const { sequences, problems } = discoverSequences(ROOT);

/** A custom role kept as code beside the mappings: its permissions are checked at every checkpoint. */
const CUSTOM = { 'finance-readers': { permissions: [['can_read', 'DAG:finance_daily'], ['can_read', 'DAGs'], ['can_read', 'DAG Runs']] } };
const CUSTOM_WANTED = ['can_read on DAG Runs', 'can_read on DAG:finance_daily', 'can_read on DAGs', 'can_read on Website'];
/** An unmanaged account present before provisioning. */
const LEGACY = { username: 'legacy.ops', email: 'legacy.ops@example.com', firstName: 'Legacy', lastName: 'Operator', roles: ['Op'], password: 'legacy-pw-1' };

test('the e2e fixtures are well-formed', () => {
  expect(problems).toEqual([]);
  expect(sequences.map((s) => s.name).sort()).toEqual(['entra', 'okta']);
});

for (const s of runningServers()) {
  describe(s.target.label, () => {
    for (const seq of sequences) {
      describe(seq.name, () => {
        let scim: TestApp;
        let reconciler: Reconciler;
        let bindings: Bindings;
        const seedRest = new Map<string, string>();
        const seedCli = new Map<string, string>();
        const knownRest = new Set<string>();
        const knownCli = new Set<string>();

        beforeAll(async () => {
          resetAirflow(s);
          // Created by the service account: under SSO even Admin may not create users (no can_create on Users).
          await clientFor(s).createUser(LEGACY);
          const config = configFor(s, {}, {
            roles: { mappings: E2E_MAPPINGS[seq.name], custom: CUSTOM },
            deprovision: 'strip-roles',
            safety: { protectedUsers: [BREAK_GLASS.username], maxDeprovisions: 1000, maxDeprovisionPercent: 100 },
          });
          scim = await buildTestApp({ backend: 'sqlite' });
          reconciler = new Reconciler({
            store: scim.store, airflow: clientFor(s), state: new MemoryReconcileState<RunReport>(), audit: scim.audit, config, clock: scim.clock, logger: silentLogger(),
          });
          bindings = new Bindings({ token: scim.token });
          const [rest, cli] = await Promise.all([viaRest(s), viaCli(s)]);
          for (const [k, v] of rest.untouched) seedRest.set(k, v);
          for (const [k, v] of cli.untouched) seedCli.set(k, v);
        });
        afterAll(async () => {
          await scim?.close();
          resetAirflow(s);
        });

        const progress: { failed?: string } = {};
        for (const f of seq.files) {
          test(path.basename(f.name), () =>
            sequenceStep(progress, f, bindings, supertestSend(scim.app), { reconciler }, async (cp) => {
              const [rest, cli] = await Promise.all([viaRest(s), viaCli(s)]);
              const mismatches = [
                ...compareCheckpoint(rest.users, rest.untouched, cp, knownRest, seedRest).map((m) => `REST: ${m}`),
                ...compareCheckpoint(cli.users, cli.untouched, cp, knownCli, seedCli).map((m) => `CLI: ${m}`),
              ];
              for (const [name, w] of [['REST', rest], ['CLI', cli]] as const) {
                const perms = w.roles.get('finance-readers');
                if (JSON.stringify(perms) !== JSON.stringify(CUSTOM_WANTED)) mismatches.push(`${name}: finance-readers has ${JSON.stringify(perms)}, want ${JSON.stringify(CUSTOM_WANTED)}`);
              }
              return mismatches;
            }));
        }
      });
    }
  });
}
