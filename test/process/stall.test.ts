import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startServe, tempDir } from '../support/processes';
import { ROOT } from '../support/dist';

const TOKEN = 'stall-test-bootstrap-token-0001';
const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/scim+json' };
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const MEMBERS = 10_000; // MAX_MEMBERS_PER_REQUEST (src/core/limits.ts): the largest member list one request may carry

/**
 * Seeds users straight into the database file, through the compiled store (HTTP would take minutes), typed as the
 * sources so that the compiler checks the calls. A throw-away file: synchronous off while seeding.
 */
async function seed(file: string): Promise<string[]> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { openDatabase } = require(path.join(ROOT, 'dist/src/store/database.js')) as typeof import('../../src/store/database');
  const { sqliteDriverFor } = require(path.join(ROOT, 'dist/src/store/sql/sqlite-driver.js')) as typeof import('../../src/store/sql/sqlite-driver');
  const { SqlIdentityStore } = require(path.join(ROOT, 'dist/src/store/sql/identity.js')) as typeof import('../../src/store/sql/identity');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const db = openDatabase(file);
  db.pragma('synchronous = OFF');
  const store = new SqlIdentityStore(sqliteDriverFor(db));
  const ids: string[] = [];
  for (let i = 0; i < MEMBERS; i++) ids.push((await store.createUser({ userName: `seed${i}@example.com`, active: true }, { actor: 'seed' })).id);
  await store.close();
  return ids;
}

/**
 * RFC 7644 §3.5.2 writes run synchronously on the event loop. The liveness probe must still answer within 100 ms
 * while the largest accepted requests are processed (Kubernetes restarts a pod whose /healthz times out).
 */
describe('/healthz during the largest accepted requests', () => {
  it('answers while they run (no stall of the event loop; the 100 ms figure is measured by npm run fuzz)', async () => {
    const dir = tempDir('stall-');
    const file = path.join(dir, 'scim.db');
    const ids = await seed(file);
    const served = await startServe({ DATABASE_PATH: file, SCIM_TOKEN: TOKEN });
    try {
      const post = async (p: string, body: unknown) => fetch(`${served.base}/scim/v2${p}`, { method: 'POST', headers, body: JSON.stringify(body) });
      const emails = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ value: `${tag}${i}@example.com`, type: 'work' }));
      const user = (await (await post('/Users', { userName: 'big', emails: emails(1000, 'a') })).json()) as { id: string };
      const fresh = (await (await post('/Users', { userName: 'fresh' })).json()) as { id: string };
      const group = (await (await post('/Groups', { displayName: 'big' })).json()) as { id: string };
      const oneAtATime = Array.from({ length: 1000 }, (_, i) => ({ op: 'add', path: 'emails', value: [{ value: `b${i}@example.com` }] }));
      const requests: Array<() => Promise<Response>> = [
        // 1,000 operations, each adding 1 value: accepted on an empty attribute, refused on a full one.
        () => fetch(`${served.base}/scim/v2/Users/${fresh.id}`, { method: 'PATCH', headers, body: JSON.stringify({ schemas: [PATCH_OP], Operations: oneAtATime }) }),
        () => fetch(`${served.base}/scim/v2/Users/${user.id}`, { method: 'PATCH', headers, body: JSON.stringify({ schemas: [PATCH_OP], Operations: oneAtATime }) }),
        // The same values re-added: accepted, nothing changes.
        () => fetch(`${served.base}/scim/v2/Users/${user.id}`, { method: 'PATCH', headers, body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'emails', value: emails(1000, 'a') }] }) }),
        () => fetch(`${served.base}/scim/v2/Users/${user.id}`, { method: 'PUT', headers, body: JSON.stringify({ userName: 'big', emails: emails(1000, 'c'), phoneNumbers: emails(1000, 'p').map((e) => ({ value: e.value })) }) }),
        () => fetch(`${served.base}/scim/v2/Groups/${group.id}`, { method: 'PATCH', headers, body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: ids.map((value) => ({ value })) }] }) }),
        () => fetch(`${served.base}/scim/v2/Groups/${group.id}`, { method: 'PUT', headers, body: JSON.stringify({ displayName: 'big', members: ids.slice().reverse().map((value) => ({ value })) }) }),
      ];
      const statuses: number[] = [];
      const worstEach: number[] = [];
      const lagEach: number[] = [];
      // prom-client resets its event-loop delay histogram on every scrape: the max after a request is its stall.
      const maxLag = async () => {
        const text = await (await fetch(`http://127.0.0.1:${served.metricsPort}/metrics`)).text();
        return Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)?.[1] ?? NaN) * 1000;
      };
      for (const send of requests) {
        let worst = 0;
        await maxLag();
        let done = false;
        const probe = (async () => {
          while (!done) {
            const t0 = performance.now();
            const r = await fetch(`${served.base}/healthz`);
            await r.arrayBuffer();
            worst = Math.max(worst, performance.now() - t0);
            await new Promise((r) => setTimeout(r, 5));
          }
        })();
        await new Promise((r) => setTimeout(r, 20));
        const res = await send();
        await res.arrayBuffer();
        statuses.push(res.status);
        done = true;
        await probe;
        worstEach.push(Math.round(worst));
        lagEach.push(Math.round(await maxLag()));
      }
      const worst = Math.max(...worstEach);
      console.log(`largest accepted requests: statuses ${statuses.join(',')}; slowest /healthz per request ${worstEach.join(', ')} ms; longest event-loop delay ${lagEach.join(', ')} ms`);
      expect(statuses).toEqual([200, 400, 200, 200, 204, 200]);
      // The defect was a 38.5 s stall (a pairwise duplicate check); a linear engine answers in tens of ms. The bound is
      // loose on purpose: this suite shares a 2-core machine, and wall-clock targets belong to bench/, not to unit tests.
      expect(worst).toBeLessThan(1000);
    } finally {
      served.child.kill('SIGTERM');
      await served.exited;
    }
  }, 120_000);
});
