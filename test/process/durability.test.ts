import path from 'node:path';
import { startServe, tempDir } from '../support/processes';

const TOKEN = 'durability-test-bootstrap-token';
const headers = { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/scim+json' };

/**
 * A 2xx answer means committed (synchronous=FULL, WAL): kill -9 in the middle of a stream of writes, restart,
 * and every acknowledged write must be there.
 */
describe('durability under SIGKILL', () => {
  it('keeps every acknowledged write', async () => {
    const dir = tempDir('durability-');
    const env = { DATABASE_PATH: path.join(dir, 'scim.db'), SCIM_TOKEN: TOKEN };
    const first = await startServe(env);
    const acked: Array<{ id: string; userName: string; member?: boolean }> = [];
    let stop = false;
    // Four concurrent writers, each a stream of user creations and group membership changes.
    const group = (await (await fetch(`${first.base}/scim/v2/Groups`, { method: 'POST', headers, body: JSON.stringify({ displayName: 'g' }) })).json()) as { id: string };
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const userName = `w${w}-u${i}@example.com`;
        try {
          const r = await fetch(`${first.base}/scim/v2/Users`, { method: 'POST', headers, body: JSON.stringify({ userName, active: true }) });
          if (r.status !== 201) continue;
          const body = (await r.json()) as { id: string };
          const entry: (typeof acked)[number] = { id: body.id, userName };
          acked.push(entry);
          const p = await fetch(`${first.base}/scim/v2/Groups/${group.id}`, {
            method: 'PATCH',
            headers,
            body: JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'add', path: 'members', value: [{ value: body.id }] }] }),
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
    first.child.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    await first.exited;

    const second = await startServe(env);
    try {
      for (const a of acked) {
        const r = await fetch(`${second.base}/scim/v2/Users/${a.id}`, { headers });
        expect({ userName: a.userName, status: r.status }).toEqual({ userName: a.userName, status: 200 });
      }
      const g = (await (await fetch(`${second.base}/scim/v2/Groups/${group.id}`, { headers })).json()) as { members?: Array<{ value: string }> };
      const members = new Set((g.members ?? []).map((m) => m.value));
      const ackedMembers = acked.filter((a) => a.member);
      // Not vacuous: membership writes were acknowledged before the kill, and each of them survived it.
      expect(ackedMembers.length).toBeGreaterThan(0);
      expect(ackedMembers.filter((a) => !members.has(a.id)).map((a) => a.userName)).toEqual([]);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  }, 60_000);
});
