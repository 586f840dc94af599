/**
 * Golden IdP tests (elimity-com/scim style): every recorded Okta and Entra exchange under test/fixtures/idp is
 * replayed against a fresh app, one sequence folder at a time, in file-name order. Format and placeholder rules:
 * test/fixtures/idp/README.md. A broken fixture is a failing test that names the file, never a skip.
 */
import path from 'node:path';
import { BACKENDS, buildTestApp, type Backend, type TestApp } from './helpers/scim-app';
import { Bindings, discoverSequences, replayStep, type Sequence } from './support/replay';
import { supertestSend } from './support/replay-http';

const ROOT = path.join(__dirname, 'fixtures', 'idp');
const { sequences, problems } = discoverSequences(ROOT);

test('the IdP fixture tree is well-formed and not empty', () => {
  expect(problems).toEqual([]);
  const names = sequences.map((s) => s.name);
  expect(names.filter((n) => n.startsWith('okta/')).length).toBeGreaterThan(0);
  expect(names.filter((n) => n.startsWith('entra/')).length).toBeGreaterThan(0);
  // Guards against a moved or emptied folder silently testing nothing.
  expect(sequences.reduce((n, s) => n + s.files.length, 0)).toBeGreaterThanOrEqual(40);
});

function replaySequence(seq: Sequence, backend: Backend): void {
  describe(`${seq.name} [${backend}]`, () => {
    let ctx: TestApp;
    let bindings: Bindings;
    let failed: string | undefined;

    beforeAll(async () => {
      ctx = await buildTestApp({ backend });
      bindings = new Bindings({ token: ctx.token });
    });
    afterAll(() => ctx?.close());

    seq.files.forEach((f, i) => {
      test(path.basename(f.name), async () => {
        // Later exchanges still run after a failure (each failure is informative); the note says where to look first.
        try {
          await replayStep(seq, i, bindings, supertestSend(ctx.app));
        } catch (e) {
          if (failed) (e as Error).message += `\n  (an earlier exchange of this sequence failed first: ${failed})`;
          failed ??= f.name;
          throw e;
        }
      });
    });
  });
}

// Every sequence runs against every identity-store backend: the recorded traffic is part of the store contract too.
for (const backend of BACKENDS) for (const seq of sequences) replaySequence(seq, backend);
