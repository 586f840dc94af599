import path from 'node:path';
import { freshSchema, type FreshSchema } from '../support/postgres';
import { startServe, tempDir, type Served } from '../support/processes';

const TOKEN = 'durability-test-bootstrap-token';
const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/scim+json' };
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

interface Acked {
  id: string;
  userName: string;
  member?: boolean;
}

/**
 * Four concurrent writers against `served`, each a stream of user creations and group membership changes, until
 * 150 creations are acknowledged; then kill -9 of the process in the middle of the stream. Returns what was
 * acknowledged (2xx) before the kill.
 */
async function writeThenKill(served: Served): Promise<{ acked: Acked[]; group: string }> {
  const acked: Acked[] = [];
  let stop = false;
  const group = (await (await fetch(`${served.base}/scim/v2/Groups`, { method: 'POST', headers, body: JSON.stringify({ displayName: 'g' }) })).json()) as { id: string };
  const writer = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const userName = `w${w}-u${i}@example.com`;
      try {
        const r = await fetch(`${served.base}/scim/v2/Users`, { method: 'POST', headers, body: JSON.stringify({ userName, active: true }) });
        if (r.status !== 201) continue;
        const body = (await r.json()) as { id: string };
        const entry: Acked = { id: body.id, userName };
        acked.push(entry);
        const p = await fetch(`${served.base}/scim/v2/Groups/${group.id}`, {
          method: 'PATCH',
          headers,
          body: JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: body.id }] }] }),
        });
        if (p.status === 204) entry.member = true;
      } catch {
        return; // the server died under us
      }
    }
  };
  const writers = [0, 1, 2, 3].map(writer);
  const deadline = Date.now() + 30_000;
  while (acked.length < 150) {
    if (Date.now() > deadline) throw new Error(`only ${acked.length} writes acknowledged in 30 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
  served.child.kill('SIGKILL');
  stop = true;
  await Promise.all(writers);
  await served.exited;
  return { acked, group: group.id };
}

/** Every acknowledged write is there when read through `served`, which can still write. */
async function expectAllThere(served: Served, acked: Acked[], group: string): Promise<void> {
  for (const a of acked) {
    const r = await fetch(`${served.base}/scim/v2/Users/${a.id}`, { headers });
    expect({ userName: a.userName, status: r.status }).toEqual({ userName: a.userName, status: 200 });
  }
  const g = (await (await fetch(`${served.base}/scim/v2/Groups/${group}`, { headers })).json()) as { members?: Array<{ value: string }> };
  const members = new Set((g.members ?? []).map((m) => m.value));
  const ackedMembers = acked.filter((a) => a.member);
  // Not vacuous: membership writes were acknowledged before the kill, and each of them survived it.
  expect(ackedMembers.length).toBeGreaterThan(0);
  expect(ackedMembers.filter((a) => !members.has(a.id)).map((a) => a.userName)).toEqual([]);
  // Nothing the killed process held (SQLite's write lock, PostgreSQL's journal advisory lock) blocks the next write.
  const after = await fetch(`${served.base}/scim/v2/Users`, { method: 'POST', headers, body: JSON.stringify({ userName: 'after-the-kill', active: true }), signal: AbortSignal.timeout(10_000) });
  expect(after.status).toBe(201);
}

const stopServe = async (s: Served | undefined) => {
  if (!s || s.child.exitCode !== null) return;
  s.child.kill('SIGTERM');
  await s.exited;
};

/**
 * A 2xx answer means committed: kill -9 in the middle of a stream of writes, and every acknowledged write must be
 * there afterwards.
 */
describe('durability under SIGKILL', () => {
  // synchronous=FULL, WAL: restart on the same file.
  it('SQLite: keeps every acknowledged write across a restart', async () => {
    const env = { DATABASE_PATH: path.join(tempDir('durability-'), 'scim.db'), SCIM_TOKEN: TOKEN };
    const { acked, group } = await writeThenKill(await startServe(env));
    const second = await startServe(env);
    try {
      await expectAllThere(second, acked, group);
    } finally {
      await stopServe(second);
    }
  }, 60_000);

  /**
   * Two replicas on one schema (DATABASE_URL); one is killed mid-stream and the other, still running, must see every
   * write the dead one acknowledged and go on writing: PostgreSQL rolls back the dead process's open transactions
   * and frees its advisory lock when its connections drop. (The test server runs with fsync off: a crash of
   * PostgreSQL itself is PostgreSQL's to survive; this is about when the service answers.)
   */
  it('PostgreSQL: a surviving replica sees every write the killed one acknowledged', async () => {
    let schema: FreshSchema | undefined;
    let survivor: Served | undefined;
    try {
      schema = await freshSchema(undefined, { create: false });
      const env = { DATABASE_URL: schema.url, DATABASE_SCHEMA: schema.schema, SCIM_TOKEN: TOKEN };
      const first = await startServe(env);
      survivor = await startServe(env);
      const { acked, group } = await writeThenKill(first);
      await expectAllThere(survivor, acked, group);
    } finally {
      await stopServe(survivor);
      await schema?.drop();
    }
  }, 60_000);
});
