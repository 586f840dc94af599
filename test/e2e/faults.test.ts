/**
 * Airflow faults while the IdP keeps provisioning: Airflow down during a burst of SCIM changes, 500s and 429s in
 * the middle of runs. Every case must converge to the same Airflow state a fault-free run reaches, with nothing
 * lost or duplicated, and seed accounts (protected admin, unmanaged user, API account) untouched.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import type { TestApp } from '../helpers/scim-app';
import { patchBody } from '../helpers/scim-app';
import { requireDist } from '../support/dist';
import { airflowUsers, API_USER, reconcileClean, reconcileUntilQuiet, SEED_USERS, startWorld, untouchedView, type World } from './harness';

const MAPPINGS = [
  { group: 'airflow-admins', roles: ['Admin'] },
  { group: 'airflow-users', roles: ['User'] },
];

const oktaUser = (login: string, given: string, family: string) => ({
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
  userName: login,
  name: { givenName: given, familyName: family },
  emails: [{ primary: true, value: login, type: 'work' }],
  groups: [],
  password: 'Pl4ceholder!',
  active: true,
});

async function createUser(scim: TestApp, login: string, given: string, family: string): Promise<string> {
  const res = await scim.scim.post('/Users', oktaUser(login, given, family)).expect(201);
  return res.body.id as string;
}

async function createGroup(scim: TestApp, displayName: string): Promise<string> {
  const res = await scim.scim.post('/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName, members: [] }).expect(201);
  return res.body.id as string;
}

async function addMembers(scim: TestApp, groupId: string, ids: string[]): Promise<void> {
  await scim.scim.patch(`/Groups/${groupId}`, patchBody({ op: 'add', path: 'members', value: ids.map((value) => ({ value })) })).expect(204);
}

async function setActive(scim: TestApp, id: string, active: boolean): Promise<void> {
  await scim.scim.patch(`/Users/${id}`, patchBody({ op: 'replace', value: { active } })).expect(200);
}

/** Roles by username of every account that is not a seed account. */
function managedRoles(world: World, seed: Map<string, string>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, u] of airflowUsers(world.fake)) if (!seed.has(name)) out[name] = u.roles;
  return out;
}

const expectSeedUntouched = (world: World, seed: Map<string, string>) => {
  const now = untouchedView(world.fake);
  for (const [name, before] of seed) expect([name, now.get(name)]).toEqual([name, before]);
};

describe.each([2, 3] as const)('Airflow %i.x', (version) => {
  let world: World;
  let seed: Map<string, string>;
  afterEach(async () => world?.close());

  /** Three users provisioned cleanly, then a burst: 8 new users, memberships, a deactivation, a profile change. */
  async function scenario(during: () => Promise<void>): Promise<Record<string, string[]>> {
    const admins = await createGroup(world.scim, 'airflow-admins');
    const users = await createGroup(world.scim, 'airflow-users');
    const first = [await createUser(world.scim, 'u0@okta.example', 'U', 'Zero'), await createUser(world.scim, 'u1@okta.example', 'U', 'One'), await createUser(world.scim, 'u2@okta.example', 'U', 'Two')];
    await addMembers(world.scim, users, first);
    await addMembers(world.scim, admins, [first[0]]);
    await reconcileClean(world);

    await during();
    const burst: string[] = [];
    for (let i = 3; i < 11; i++) {
      burst.push(await createUser(world.scim, `u${i}@okta.example`, 'U', `N${i}`));
      if (i % 3 === 0) await world.reconciler.runOnce({ trigger: 'change' }); // the loop keeps trying during the burst
    }
    await addMembers(world.scim, users, burst);
    await addMembers(world.scim, admins, [burst[0]]);
    await setActive(world.scim, first[2], false);
    await world.scim.scim
      .put(`/Users/${first[1]}`, { ...oktaUser('u1@okta.example', 'Uno', 'One'), password: undefined, id: first[1], emails: [{ primary: true, value: 'uno@okta.example', type: 'work' }] })
      .expect(200);
    await world.reconciler.runOnce({ trigger: 'change' });

    const expected: Record<string, string[]> = { 'u0@okta.example': ['Admin', 'User'], 'u1@okta.example': ['User'], 'u2@okta.example': [] };
    for (let i = 3; i < 11; i++) expected[`u${i}@okta.example`] = i === 3 ? ['Admin', 'User'] : ['User'];
    return expected;
  }

  async function expectConverged(expected: Record<string, string[]>): Promise<void> {
    await reconcileUntilQuiet(world);
    expect(managedRoles(world, seed)).toEqual(expected);
    expect(airflowUsers(world.fake).get('u1@okta.example')).toMatchObject({ firstName: 'Uno', email: 'uno@okta.example' });
    expectSeedUntouched(world, seed);
    // Level-based: one more run plans nothing.
    const again = await reconcileClean(world);
    expect(again.plan.actions).toEqual([]);
  }

  test('Airflow down during a burst of SCIM changes, then up: converges with nothing lost', async () => {
    world = await startWorld({ version, mappings: MAPPINGS, airflow: { retries: 1 } });
    seed = untouchedView(world.fake);
    const expected = await scenario(async () => world.fake.setDown(true));
    const whileDown = await world.reconciler.runOnce({ trigger: 'schedule' });
    expect(whileDown.result).toBe('failed');
    expect(whileDown.transient).toBe(true);
    expect(Object.keys(managedRoles(world, seed)).sort()).toEqual(['u0@okta.example', 'u1@okta.example', 'u2@okta.example']);

    await world.fake.setDown(false);
    await expectConverged(expected);
  });

  test('500s in the middle of runs: partial runs, then converges without duplicates', async () => {
    world = await startWorld({ version, mappings: MAPPINGS, airflow: { retries: 0 } });
    seed = untouchedView(world.fake);
    const expected = await scenario(async () => {
      world.fake.faults.seed(7);
      world.fake.faults.errorRate = 0.35;
    });
    const results = [];
    for (let i = 0; i < 3; i++) results.push((await world.reconciler.runOnce({ trigger: 'schedule' })).result);
    expect(results.some((r) => r === 'partial' || r === 'failed')).toBe(true);
    expect([...world.fake.faults.log].some((e) => e.status === 500)).toBe(true);

    world.fake.faults.errorRate = 0;
    await expectConverged(expected);
    expect(airflowUsers(world.fake).size).toBe(seed.size + 11);
  });

  test('429s with Retry-After in the middle of runs: retried, converges', async () => {
    world = await startWorld({ version, mappings: MAPPINGS, airflow: { retries: 4 } });
    seed = untouchedView(world.fake);
    const expected = await scenario(async () => {
      world.fake.faults.rateLimit = { everyN: 3, retryAfterSeconds: 1 };
    });
    expect([...world.fake.faults.log].some((e) => e.status === 429)).toBe(true);
    world.fake.faults.rateLimit = null;
    await expectConverged(expected);
  });

  test('500s on the writes after the first one, inside one run: that run is partial, the next run finishes the job', async () => {
    world = await startWorld({ version, mappings: MAPPINGS, airflow: { retries: 0, concurrency: 1 } });
    seed = untouchedView(world.fake);
    const admins = await createGroup(world.scim, 'airflow-admins');
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push(await createUser(world.scim, `w${i}@okta.example`, 'W', `N${i}`));
    await addMembers(world.scim, admins, ids);
    let injected = false;
    const report = await world.reconciler.runOnce({
      trigger: 'change',
      onProgress: (done) => {
        if (done === 1 && !injected) {
          injected = true;
          world.fake.faults.failNext(3, 500);
        }
      },
    });
    expect(report.result).toBe('partial');
    expect(report.outcomes.filter((o) => !o.ok)).toHaveLength(3);
    expect(report.outcomes.filter((o) => o.ok).length).toBeGreaterThanOrEqual(1);

    await reconcileUntilQuiet(world);
    const expected = Object.fromEntries(ids.map((_, i) => [`w${i}@okta.example`, ['Admin']]));
    expect(managedRoles(world, seed)).toEqual(expected);
    expectSeedUntouched(world, seed);
  });
});

/**
 * Crash consistency of the real process: `serve` is SIGKILLed while it is applying a batch to Airflow, then
 * restarted on the same database; it must converge (created-but-unrecorded accounts are adopted, not duplicated).
 */
describe('process crash in the middle of an apply (dist CLI)', () => {
  let fake: FakeAirflow | undefined;
  let child: ChildProcess | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await fake?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('SIGKILL during apply, restart: converges with every user once and the right roles', async () => {
    const cli = requireDist('src/cli/main.js');
    fake = await startFakeAirflow({ version: 2, adminUser: API_USER.username, adminPassword: API_USER.password });
    for (const u of SEED_USERS) fake.state.addUser(u);
    const seed = untouchedView(fake);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scim-crash-'));
    fs.writeFileSync(
      path.join(dir, 'config.yaml'),
      [
        'logging: { level: error }',
        'roles:',
        '  mappings:',
        '    - { group: airflow-users, roles: [User] }',
        'safety: { protectedUsers: [admin], maxDeprovisions: 1000, maxDeprovisionPercent: 100 }',
        'reconcile: { debounce: 50ms }',
        'airflow: { retries: 1, concurrency: 2 }',
      ].join('\n'),
    );
    const [port, metricsPort] = [await freePort(), await freePort()];
    const token = 'crash-test-token-0123456789abcdef';
    const env = {
      ...process.env,
      AIRFLOW_SCIM_CONFIG: path.join(dir, 'config.yaml'),
      DATABASE_PATH: path.join(dir, 'scim.db'),
      PORT: String(port),
      HOST: '127.0.0.1',
      METRICS_PORT: String(metricsPort),
      SCIM_TOKEN: token,
      AIRFLOW_URL: fake.url,
      AIRFLOW_API_VERSION: 'auto',
      AIRFLOW_USERNAME: API_USER.username,
      AIRFLOW_PASSWORD: API_USER.password,
      LOG_LEVEL: 'error',
    };
    const start = async () => {
      const p = spawn(process.execPath, [cli, 'serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      p.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok === true, 15_000, () => `serve did not become healthy: ${stderr}`);
      return p;
    };
    const scim = async (method: string, p: string, body?: unknown) => {
      const res = await fetch(`http://127.0.0.1:${port}/scim/v2${p}`, {
        method,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${text}`);
      return text ? (JSON.parse(text) as Record<string, unknown>) : {};
    };

    child = await start();
    const N = 24;
    const group = await scim('POST', '/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'airflow-users', members: [] });
    const ids: string[] = [];
    for (let i = 0; i < N; i++) ids.push((await scim('POST', '/Users', oktaUser(`c${i}@okta.example`, 'C', `N${i}`))).id as string);
    // Slow Airflow down so the apply of N creates takes seconds, then trigger it with one membership PATCH.
    fake.faults.latencyMs = 120;
    const managed = () => fake!.state.listUsers().filter((u) => !seed.has(u.username)).length;
    await scim('PATCH', `/Groups/${group.id as string}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'add', path: 'members', value: ids.map((value) => ({ value })) }] });
    await waitFor(async () => managed() >= 3, 15_000, () => 'the reconciler never started applying');
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    const atCrash = managed();
    expect(atCrash).toBeLessThan(N); // really mid-apply

    fake.faults.latencyMs = 0;
    child = await start();
    await waitFor(
      async () => {
        const users = airflowUsersOf(fake!);
        return ids.every((_, i) => users.get(`c${i}@okta.example`)?.join() === 'User');
      },
      20_000,
      () => `did not converge after restart: ${JSON.stringify([...airflowUsersOf(fake!)])}`,
    );
    expect(managed()).toBe(N); // nothing duplicated (usernames are unique anyway) and nothing extra
    const now = untouchedView(fake);
    for (const [name, before] of seed) expect([name, now.get(name)]).toEqual([name, before]);
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  });
});

function airflowUsersOf(fake: FakeAirflow): Map<string, string[]> {
  return new Map(fake.state.listUsers().map((u) => [u.username, [...u.roles].sort()]));
}

async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number, why: () => string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(why());
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
