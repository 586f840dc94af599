import type { RunReport } from '../../src/reconcile/types';
/**
 * The points where Airflow's source said our client or fake were wrong (../shared/docs/real-airflow.md), each
 * confirmed on a real server and kept as a test here: sessions per call on 2.x, stale PATCH bodies, tokens signed
 * with another secret, self-signed tokens under SSO, access of a deprovisioned user, and non-FAB auth managers.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AirflowError } from '../../src/airflow/types';
import { silentLogger } from '../../src/logger';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import { Reconciler } from '../../src/reconcile/reconciler';
import { buildAccessReport } from '../../src/server/access-report';
import { freePort } from '../support/processes';
import { buildTestApp, CORE_USER, PATCH_OP } from '../helpers/scim-app';
import { clientFor, configFor } from './clients';
import { countRows, loginCount, resetAirflow } from './db';
import {
  airflowCli, BREAK_GLASS, FAB_CACHE_TTL_S, JWT_SECRET, logTail, runningServers, SERVICE_ACCOUNT, start, stop, type RealAirflowServer,
} from './server';

const servers = runningServers();
const v2 = servers.filter((s) => s.target.apiVersion === 2);
const v3 = servers.filter((s) => s.target.apiVersion === 3);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A SCIM service wired to this Airflow: users in group "airflow-viewers" get Viewer. */
async function world(s: RealAirflowServer) {
  const scim = await buildTestApp({ backend: 'sqlite' });
  const config = configFor(s, {}, {
    roles: { mappings: [{ group: 'airflow-viewers', roles: ['Viewer'] }] },
    deprovision: 'strip-roles',
    safety: { protectedUsers: [BREAK_GLASS.username], maxDeprovisions: 1000, maxDeprovisionPercent: 100 },
  });
  const state = new MemoryReconcileState<RunReport>();
  const reconciler = new Reconciler({ store: scim.store, airflow: clientFor(s), state, audit: scim.audit, config, clock: scim.clock, logger: silentLogger() });
  const addViewers = async (names: string[]): Promise<string[]> => {
    const ids: string[] = [];
    for (const n of names) {
      const r = await scim.scim.post('/Users').send({ schemas: [CORE_USER], userName: n, active: true, name: { givenName: n, familyName: 'Test' }, emails: [{ value: `${n}@corp.example`, primary: true }] });
      expect(r.status).toBe(201);
      ids.push(r.body.id as string);
    }
    const g = await scim.scim.post('/Groups').send({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'airflow-viewers', members: ids.map((value) => ({ value })) });
    expect(g.status).toBe(201);
    return ids;
  };
  return { scim, reconciler, addViewers, state };
}

async function token(s: RealAirflowServer, username: string, password: string): Promise<{ status: number; token?: string }> {
  const r = await fetch(`${s.url}/auth/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const body = (await r.json().catch(() => ({}))) as { access_token?: string };
  return { status: r.status, token: body.access_token };
}

/** A read any Viewer may make: the DAG list. */
async function readDags(s: RealAirflowServer, auth: string): Promise<number> {
  const p = s.target.apiVersion === 3 ? '/api/v2/dags?limit=1' : '/api/v1/dags?limit=1';
  return (await fetch(`${s.url}${p}`, { headers: { Authorization: auth } })).status;
}

for (const s of v2) describe(s.target.label, () => {
  beforeEach(() => resetAirflow(s));

  test('100 reconcile runs add no session row and no login for the service account (basic auth signs in once)', async () => {
    const w = await world(s);
    try {
      await w.addViewers(['sess1', 'sess2', 'sess3']);
      expect((await w.reconciler.runOnce({ trigger: 'cli' })).result).toBe('applied');
      const sessionsBefore = countRows(s, 'session');
      const loginsBefore = loginCount(s, SERVICE_ACCOUNT.username);
      for (let i = 0; i < 100; i++) expect((await w.reconciler.runOnce({ trigger: 'schedule' })).result).toBe('nothing-to-do');
      const grew = { sessions: countRows(s, 'session') - sessionsBefore, logins: loginCount(s, SERVICE_ACCOUNT.username) - loginsBefore };
      console.log(`Airflow ${s.target.airflowVersion}: 100 no-op runs added ${grew.sessions} session row(s) and ${grew.logins} login(s)`);
      expect(grew).toEqual({ sessions: 0, logins: 0 });
    } finally {
      await w.scim.close();
    }
  });

  test('an update after Airflow changed the user elsewhere sends fresh data: no false 409 from a stale email', async () => {
    const ours = clientFor(s);
    const admin = clientFor(s, { apiUser: BREAK_GLASS.username, apiPassword: BREAK_GLASS.password });
    await admin.createUser({ username: 'zoe', email: 'zoe@corp.example', firstName: 'Zoe', lastName: 'Z', roles: ['Viewer'], password: 'Zoe-pw-123' });
    await ours.listUsers();
    await admin.updateUser('zoe', { email: 'zoe.new@corp.example' });
    await admin.createUser({ username: 'amy', email: 'zoe@corp.example', firstName: 'Amy', lastName: 'A', roles: ['Viewer'], password: 'Amy-pw-123' });
    const u = await ours.updateUser('zoe', { roles: ['User'] });
    expect(u).toMatchObject({ email: 'zoe.new@corp.example', roles: ['User'] });
  });
});

for (const s of v3) describe(s.target.label, () => {
  beforeEach(() => resetAirflow(s));

  test('after an API-server restart with another jwt_secret our token gets 403 "Invalid JWT token"; the client renews it once', async () => {
    const client = clientFor(s);
    await client.listUsers();
    const old = await token(s, SERVICE_ACCOUNT.username, SERVICE_ACCOUNT.password);
    try {
      await stop(s);
      await start(s, { env: { AIRFLOW__API_AUTH__JWT_SECRET: 'a-different-secret-after-restart-0123456789' } });
      const raw = await fetch(`${s.url}/auth/fab/v1/users?limit=1`, { headers: { Authorization: `Bearer ${old.token}` } });
      expect(raw.status).toBe(403);
      expect(await raw.json()).toEqual({ detail: 'Invalid JWT token' });
      expect((await client.listUsers()).some((u) => u.username === BREAK_GLASS.username)).toBe(true);
    } finally {
      await stop(s);
      await start(s);
    }
  });

  test("a token we sign with the shared [api_auth] jwt_secret is accepted (the SSO path); POST /auth/token's answer for a password is recorded", async () => {
    const users = JSON.parse((await airflowCli(s, ['users', 'list', '-o', 'json'])).match(/^\[\s*[{\]][\s\S]*\]/m)?.[0] ?? '[]') as Array<{ id: string; username: string }>;
    const id = users.find((u) => u.username === SERVICE_ACCOUNT.username)?.id;
    expect(id).toMatch(/^\d+$/);
    const signed = clientFor(s, { apiPassword: null, jwtSecret: JWT_SECRET, jwtUserId: id });
    expect((await signed.info()).apiVersion).toBe(3);
    await signed.createUser({ username: 'sso-made', email: 'sso@corp.example', firstName: 'S', lastName: 'O', roles: ['Viewer'], password: 'Sso-pw-1234' });
    expect((await signed.listUsers()).some((u) => u.username === 'sso-made')).toBe(true);
    // With the wrong secret: one clear error, after one renewal.
    const wrong = clientFor(s, { apiPassword: null, jwtSecret: 'not-the-secret', jwtUserId: id });
    const err = (await wrong.info().catch((e: unknown) => e)) as AirflowError;
    expect(err).toBeInstanceOf(AirflowError);
    expect(err.kind).toBe('auth');
    expect(err.message).toContain('jwt_secret');
    const password = await token(s, SERVICE_ACCOUNT.username, SERVICE_ACCOUNT.password);
    console.log(`${s.target.label}: POST /auth/token for a DB password answers ${password.status}`);
    // FAB < 3.11 still falls back to the DB password under SSO; 3.11+ refuses it unless AUTH_TYPE is AUTH_DB (real-airflow.md §3).
    const fab311 = s.target.fabVersion.localeCompare('3.11.0', undefined, { numeric: true }) >= 0;
    expect(password.status).toBe(fab311 && s.target.authType !== 'AUTH_DB' ? 401 : 201);
  });
});

for (const s of servers) describe(s.target.label, () => {
  beforeEach(() => resetAirflow(s));

  test('the access review report, read from this real Airflow, classifies every account and role', async () => {
    const w = await world(s);
    try {
      await w.addViewers(['rita']);
      expect((await w.reconciler.runOnce({ trigger: 'cli' })).result).toBe('applied');
      // Made by the service account: under SSO even Admin may not create users (no can_create on Users).
      await clientFor(s).createUser({ username: 'shadow.admin', email: 'shadow@corp.example', firstName: 'S', lastName: 'A', roles: ['Admin'], password: 'Shadow-pw-123' });
      const airflow = clientFor(s);
      const config = configFor(s, {}, { roles: { mappings: [{ group: 'airflow-viewers', roles: ['Viewer'] }] }, safety: { protectedUsers: [BREAK_GLASS.username] } });
      const report = await buildAccessReport({ airflow, store: w.scim.store, config, audit: w.scim.audit, clock: w.scim.clock, state: w.state });
      const by = new Map(report.accounts.map((a) => [a.username, a]));
      expect(report.airflow.version).toBe(s.target.airflowVersion);
      expect(by.get(SERVICE_ACCOUNT.username)?.holding).toBe('service-account');
      expect(by.get(BREAK_GLASS.username)?.holding).toBe('protected');
      expect(by.get('rita')).toMatchObject({ holding: 'managed', roles: ['Viewer'], why: 'group airflow-viewers (group: airflow-viewers) -> Viewer', flags: [] });
      expect(by.get('shadow.admin')?.flags).toEqual(['unmanaged account with Admin']);
      expect(report.roles.map((r) => r.name)).toEqual(expect.arrayContaining(['Admin', 'Op', 'Public', 'User', 'Viewer']));
      expect(report.roles.find((r) => r.name === 'Viewer')?.managedHolders).toBe(1);
    } finally {
      await w.scim.close();
    }
  });

  test('a deprovisioned user whose password was set in Airflow is refused by the API', async () => {
    const w = await world(s);
    try {
      const [carol] = await w.addViewers(['carol']);
      expect((await w.reconciler.runOnce({ trigger: 'cli' })).result).toBe('applied');
      await airflowCli(s, ['users', 'reset-password', '-u', 'carol', '-p', 'Carol-pw-12345']);
      const basic = `Basic ${Buffer.from('carol:Carol-pw-12345').toString('base64')}`;
      let bearer = basic;
      if (s.target.apiVersion === 3) {
        const t = await token(s, 'carol', 'Carol-pw-12345');
        expect(t.status).toBe(201);
        bearer = `Bearer ${t.token}`;
      }
      expect(await readDags(s, bearer)).toBe(200);
      const patch = await w.scim.scim.patch(`/Users/${carol}`).send({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'active', value: false }] });
      expect(patch.status).toBe(200);
      const run = await w.reconciler.runOnce({ trigger: 'change' });
      expect(run.outcomes.map((o) => `${o.action.kind}:${o.ok}`)).toEqual(['deprovision-user:true']);
      if (s.target.apiVersion === 2) {
        expect([401, 403]).toContain(await readDags(s, basic));
      } else {
        // The password was rotated: no new token. The token issued before is refused once FAB's permission cache expires.
        expect((await token(s, 'carol', 'Carol-pw-12345')).status).toBe(401);
        const deadline = Date.now() + (FAB_CACHE_TTL_S + 10) * 1000;
        let status = await readDags(s, bearer);
        while (status === 200 && Date.now() < deadline) {
          await sleep(500);
          status = await readDags(s, bearer);
        }
        expect(status).toBe(403);
      }
    } finally {
      await w.scim.close();
    }
  });
});

const s3 = v3.find((s) => s.target.authType === 'AUTH_DB');
if (s3) describe(`${s3.target.label} with SimpleAuthManager instead of FAB`, () => {
  let simple: RealAirflowServer | undefined;
  beforeAll(async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'real-airflow-simple-'));
    const port = await freePort();
    simple = { ...s3, home, port, url: `http://127.0.0.1:${port}`, logFile: path.join(home, 'server.log') };
    const env = {
      AIRFLOW__CORE__AUTH_MANAGER: 'airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager',
      AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS: `${SERVICE_ACCOUNT.username}:admin`,
    };
    fs.mkdirSync(path.join(home, 'dags'));
    await airflowCli(simple, ['db', 'migrate'], 180_000, env);
    await start(simple, { env });
  });
  afterAll(async () => {
    if (simple) {
      await stop(simple);
      fs.rmSync(simple.home, { recursive: true, force: true });
    }
  });

  test('SimpleAuthManager also serves POST /auth/token: we say it is not FAB, not "credentials rejected"', async () => {
    if (!simple) throw new Error('the SimpleAuthManager server did not start');
    const server = simple;
    const expectNotFab = async (password: string): Promise<void> => {
      const err = (await clientFor(server, { apiPassword: password }).info().catch((e: unknown) => e)) as AirflowError;
      if (!(err instanceof AirflowError)) throw new Error(`expected an AirflowError, got ${String(err)}\n${logTail(server)}`);
      expect(err.kind).toBe('not-fab');
      expect(err.message).toContain('not FAB');
    };
    // A password SimpleAuthManager refuses (401 from POST /auth/token) ...
    await expectNotFab('not-the-password');
    // ... and the right one: the token works, but /auth/fab/v1 is its web UI (200 HTML), not a users API.
    const generated = JSON.parse(fs.readFileSync(path.join(server.home, 'simple_auth_manager_passwords.json.generated'), 'utf8')) as Record<string, string>;
    await expectNotFab(generated[SERVICE_ACCOUNT.username] as string);
  });
});
