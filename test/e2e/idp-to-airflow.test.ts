/**
 * End to end, for Airflow 2.x and 3.x: recorded Okta and Entra provisioning conversations (test/fixtures/e2e/<idp>)
 * go into the SCIM API; at each checkpoint the reconciler runs once and the fake Airflow is checked user by user,
 * then a second run must plan nothing (level-based and idempotent). Seed accounts (the protected admin, an
 * unmanaged pre-existing user, the API service account) must never change.
 */
import path from 'node:path';
import { Bindings, discoverSequences, replayExchange } from '../support/replay';
import { supertestSend } from '../support/replay-http';
import { checkAirflow, checkpointSchema, E2E_MAPPINGS, reconcileClean, startWorld, untouchedView, type World } from './harness';

const ROOT = path.join(__dirname, '..', 'fixtures', 'e2e');
const { sequences, problems } = discoverSequences(ROOT);

const MAPPINGS = E2E_MAPPINGS;

test('the e2e fixture tree is well-formed and has Okta and Entra sequences with checkpoints', () => {
  expect(problems).toEqual([]);
  expect(sequences.map((s) => s.name).sort()).toEqual(Object.keys(MAPPINGS).sort());
  for (const s of sequences) expect(s.files.filter((f) => f.fixture?.kind === 'checkpoint').length).toBeGreaterThanOrEqual(5);
});

describe.each([2, 3] as const)('Airflow %i.x', (version) => {
  for (const seq of sequences) {
    describe(seq.name, () => {
      let world: World;
      let bindings: Bindings;
      let seedState: Map<string, string>;
      const known = new Set<string>();
      let failed: string | undefined;

      beforeAll(async () => {
        const mappings = MAPPINGS[seq.name];
        if (!mappings) throw new Error(`no role mappings for e2e sequence ${seq.name}`);
        world = await startWorld({ version, mappings });
        bindings = new Bindings({ token: world.scim.token });
        seedState = untouchedView(world.fake);
      });
      afterAll(async () => world?.close());

      for (const f of seq.files) {
        test(path.basename(f.name), async () => {
          if (f.error) throw new Error(f.error);
          const fx = f.fixture!;
          try {
            if (fx.kind === 'exchange') {
              await replayExchange(f.name, fx, bindings, supertestSend(world.scim.app));
              return;
            }
            const parsed = checkpointSchema.safeParse(fx.checkpoint);
            if (!parsed.success) throw new Error(`${f.name}: malformed checkpoint: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
            await reconcileClean(world);
            const mismatches = checkAirflow(world.fake, parsed.data, known, seedState);
            if (mismatches.length) throw new Error(`${f.name}: ${fx.description}\n  - ${mismatches.join('\n  - ')}`);
            const again = await reconcileClean(world);
            if (again.plan.actions.length) throw new Error(`${f.name}: the second run still planned ${JSON.stringify(again.plan.actions)}`);
            expect(again.result).toBe('nothing-to-do');
          } catch (e) {
            if (failed) (e as Error).message += `\n  (an earlier step of this sequence failed first: ${failed})`;
            failed ??= f.name;
            throw e;
          }
        });
      }
    });
  }
});
