/**
 * End to end, for Airflow 2.x and 3.x: recorded Okta and Entra provisioning conversations (test/fixtures/e2e/<idp>)
 * go into the SCIM API; at each checkpoint the reconciler runs once and the fake Airflow is checked user by user,
 * then a second run must plan nothing (level-based and idempotent). Seed accounts (the protected admin, an
 * unmanaged pre-existing user, the API service account) must never change.
 */
import path from 'node:path';
import { Bindings, discoverSequences } from '../support/replay';
import { supertestSend } from '../support/replay-http';
import { checkAirflow, E2E_MAPPINGS, sequenceStep, startWorld, untouchedView, type World } from './harness';

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

      beforeAll(async () => {
        const mappings = MAPPINGS[seq.name];
        if (!mappings) throw new Error(`no role mappings for e2e sequence ${seq.name}`);
        world = await startWorld({ version, mappings });
        bindings = new Bindings({ token: world.scim.token });
        seedState = untouchedView(world.fake);
      });
      afterAll(async () => world?.close());

      const progress: { failed?: string } = {};
      for (const f of seq.files) {
        test(path.basename(f.name), () =>
          sequenceStep(progress, f, bindings, supertestSend(world.scim.app), world, async (cp) => checkAirflow(world.fake, cp, known, seedState)));
      }
    });
  }
});
