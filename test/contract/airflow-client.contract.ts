/**
 * The one suite every AirflowClient must pass (STYLE habit 1): 2.x fake, 3.x fake and the memory client.
 * Semantics from ../shared/docs/airflow-api.md §1.4, §1.5, §1.7, §5.
 */
import type { AirflowClient, NewAirflowUser, RolePatchBehaviour } from '../../src/airflow/types';
import { AirflowError } from '../../src/airflow/types';

export interface AirflowClientFixture {
  client: AirflowClient;
  /** What the backend is known to do with role PATCH (real-airflow.md §1). */
  rolePatch: RolePatchBehaviour;
  /** Seeds n users named `${prefix}0000`… straight into the backend (roles: Viewer). */
  seedUsers(n: number, prefix: string): Promise<void>;
  teardown(): Promise<void>;
}

const newUser = (username: string, extra: Partial<NewAirflowUser> = {}): NewAirflowUser => ({
  username,
  email: `${username}@corp.example`,
  firstName: 'Ada',
  lastName: 'Lovelace',
  roles: ['Viewer'],
  password: 'S3cret-pass!',
  ...extra,
});

async function errorOf(p: Promise<unknown>): Promise<AirflowError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof AirflowError) return e;
    throw e;
  }
  throw new Error('expected an AirflowError');
}

export function runAirflowClientContract(name: string, setup: () => Promise<AirflowClientFixture>): void {
  describe(`AirflowClient contract: ${name}`, () => {
    let fx: AirflowClientFixture;
    let client: AirflowClient;
    beforeEach(async () => {
      fx = await setup();
      client = fx.client;
    });
    afterEach(async () => {
      await fx.teardown();
    });

    test('listUsers pages through more than 250 users without gaps or duplicates', async () => {
      await fx.seedUsers(260, 'bulk');
      const users = await client.listUsers();
      const bulk = users.filter((u) => u.username.startsWith('bulk')).map((u) => u.username);
      expect(bulk).toHaveLength(260);
      expect(new Set(bulk).size).toBe(260);
      expect(bulk).toContain('bulk0000');
      expect(bulk).toContain('bulk0259');
      expect(new Set(users.map((u) => u.username.toLowerCase())).size).toBe(users.length);
    });

    test('createUser returns the user and listUsers shows it', async () => {
      const created = await client.createUser(newUser('alice', { roles: ['Viewer', 'Op'] }));
      expect(created).toMatchObject({ username: 'alice', email: 'alice@corp.example', firstName: 'Ada', lastName: 'Lovelace' });
      expect([...created.roles].sort()).toEqual(['Op', 'Viewer']);
      const listed = (await client.listUsers()).find((u) => u.username === 'alice');
      expect(listed).toMatchObject({ email: 'alice@corp.example', firstName: 'Ada', lastName: 'Lovelace' });
      expect([...(listed?.roles ?? [])].sort()).toEqual(['Op', 'Viewer']);
    });

    test('getUser reads one user fresh, in any case of the username; null when there is none', async () => {
      await client.createUser(newUser('gwen', { roles: ['Viewer', 'User'] }));
      const u = await client.getUser('GWEN');
      expect(u).toMatchObject({ username: 'gwen', email: 'gwen@corp.example', firstName: 'Ada', lastName: 'Lovelace' });
      expect([...(u?.roles ?? [])].sort()).toEqual(['User', 'Viewer']);
      expect(await client.getUser('nobody-here')).toBeNull();
    });

    test('updateUser changes only the given fields', async () => {
      await client.createUser(newUser('bob', { roles: ['Viewer'] }));
      await client.listUsers();
      const updated = await client.updateUser('bob', { email: 'robert@corp.example', lastName: 'Builder' });
      expect(updated).toMatchObject({ username: 'bob', email: 'robert@corp.example', firstName: 'Ada', lastName: 'Builder', roles: ['Viewer'] });
      const listed = (await client.listUsers()).find((u) => u.username === 'bob');
      expect(listed).toMatchObject({ email: 'robert@corp.example', lastName: 'Builder', roles: ['Viewer'] });
    });

    test('roles in an update replace the whole list; [] removes every role', async () => {
      await client.createUser(newUser('carol', { roles: ['Viewer', 'Op'] }));
      expect((await client.updateUser('carol', { roles: ['User'] })).roles).toEqual(['User']);
      expect((await client.listUsers()).find((u) => u.username === 'carol')?.roles).toEqual(['User']);
      expect((await client.updateUser('carol', { roles: [] })).roles).toEqual([]);
    });

    test('deleteUser removes the user; missing users are not-found', async () => {
      await client.createUser(newUser('dave'));
      await client.deleteUser('dave');
      expect((await client.listUsers()).some((u) => u.username === 'dave')).toBe(false);
      expect((await errorOf(client.deleteUser('dave'))).kind).toBe('not-found');
      expect((await errorOf(client.updateUser('nobody', { email: 'x@corp.example' }))).kind).toBe('not-found');
    });

    test('a taken username (in any case) or email is a conflict', async () => {
      await client.createUser(newUser('erin'));
      const dupName = await errorOf(client.createUser(newUser('ERIN', { email: 'other@corp.example' })));
      expect(dupName.kind).toBe('conflict');
      expect(dupName.message).toContain('ERIN');
      const dupEmail = await errorOf(client.createUser(newUser('erin2', { email: 'erin@corp.example' })));
      expect(dupEmail.kind).toBe('conflict');
      expect(dupEmail.message).toContain('erin@corp.example');
      await client.createUser(newUser('frank'));
      const emailTaken = await errorOf(client.updateUser('frank', { email: 'erin@corp.example' }));
      expect(emailTaken.kind).toBe('conflict');
    });

    test('an unknown role is a bad-request naming the role', async () => {
      const onCreate = await errorOf(client.createUser(newUser('gina', { roles: ['Viewer', 'Astronaut'] })));
      expect(onCreate.kind).toBe('bad-request');
      expect(onCreate.message).toContain("'Astronaut'");
      expect(onCreate.transient).toBe(false);
      await client.createUser(newUser('hank'));
      const onUpdate = await errorOf(client.updateUser('hank', { roles: ['Pilot'] }));
      expect(onUpdate.kind).toBe('bad-request');
      expect(onUpdate.message).toContain("'Pilot'");
      expect((await client.listUsers()).find((u) => u.username === 'hank')?.roles).toEqual(['Viewer']);
    });

    test('usernames are case-insensitive for update and delete', async () => {
      await client.createUser(newUser('ivy'));
      await client.listUsers();
      const updated = await client.updateUser('IVY', { firstName: 'Ivy' });
      expect(updated.username).toBe('ivy');
      expect(updated.firstName).toBe('Ivy');
      await client.deleteUser('Ivy');
      expect((await client.listUsers()).some((u) => u.username.toLowerCase() === 'ivy')).toBe(false);
    });

    test('createRole then listRoles shows it with its permissions; a duplicate is a conflict', async () => {
      // With can_read on Website, as every custom role we manage (FAB 3.8.0 adds it to a role it creates).
      await client.createRole({ name: 'finance', permissions: [['can_read', 'DAG:finance_daily'], ['can_read', 'Website']] });
      const role = (await client.listRoles()).find((r) => r.name === 'finance');
      expect((role?.permissions ?? []).map((p) => p.join(' on ')).sort()).toEqual(['can_read on DAG:finance_daily', 'can_read on Website']);
      const names = (await client.listRoles()).map((r) => r.name);
      expect(names).toEqual(expect.arrayContaining(['Admin', 'Op', 'User', 'Viewer', 'Public', 'finance']));
      const dup = await errorOf(client.createRole({ name: 'finance', permissions: [] }));
      expect(dup.kind).toBe('conflict');
    });

    test('info reports the role PATCH behaviour the server has', async () => {
      const info = await client.info();
      expect(info.rolePatch).toBe(fx.rolePatch);
      expect([2, 3]).toContain(info.apiVersion);
    });

    test('setRolePermissions sends the whole set: missing ones are added; extras go where PATCH replaces, stay where it adds', async () => {
      await client.createRole({ name: 'analysts', permissions: [['can_read', 'DAG:finance_daily'], ['can_delete', 'DAG:finance_daily']] });
      await client.setRolePermissions('analysts', [['can_edit', 'DAG:finance_daily'], ['can_read', 'DAG:finance_daily'], ['can_read', 'Website']]);
      const role = (await client.listRoles()).find((r) => r.name === 'analysts');
      const perms = (role?.permissions ?? []).map((p) => p.join(' on ')).sort();
      const wanted = ['can_edit on DAG:finance_daily', 'can_read on DAG:finance_daily', 'can_read on Website'];
      expect(perms).toEqual(fx.rolePatch === 'replace' ? wanted : ['can_delete on DAG:finance_daily', ...wanted].sort());
      // Sending the same set again changes nothing.
      await client.setRolePermissions('analysts', [['can_edit', 'DAG:finance_daily'], ['can_read', 'DAG:finance_daily'], ['can_read', 'Website']]);
      const again = (await client.listRoles()).find((r) => r.name === 'analysts');
      expect((again?.permissions ?? []).map((p) => p.join(' on ')).sort()).toEqual(perms);
      expect((await errorOf(client.setRolePermissions('no-such-role', [['can_read', 'Website']]))).kind).toBe('not-found');
    });

    test('a permission on a resource Airflow does not have (a DAG not parsed yet) is an unknown-resource error naming it', async () => {
      const onCreate = await errorOf(client.createRole({ name: 'ghosts', permissions: [['can_read', 'DAG:no_such_dag']] }));
      expect(onCreate.kind).toBe('unknown-resource');
      expect(onCreate.message).toContain('DAG:no_such_dag');
      expect(onCreate.transient).toBe(false);
      await client.createRole({ name: 'ghosts', permissions: [] });
      const onSet = await errorOf(client.setRolePermissions('ghosts', [['can_read', 'Datasets-or-Assets-typo']]));
      expect(onSet.kind).toBe('unknown-resource');
      expect(onSet.message).toContain('Datasets-or-Assets-typo');
    });

    test('users can be given a new role and keep it; every call is counted by endpoint', async () => {
      await client.createRole({ name: 'ops-team', permissions: [['can_read', 'Website']] });
      const u = await client.createUser(newUser('jack', { roles: ['ops-team'] }));
      expect(u.roles).toEqual(['ops-team']);
      expect((await client.getUser('jack'))?.roles).toEqual(['ops-team']);
      const count = (re: RegExp): number => [...(client.calls ?? new Map<string, number>()).entries()].filter(([k]) => re.test(k)).reduce((a, [, n]) => a + n, 0);
      const posts = count(/^POST .*\/users$/);
      await client.createUser(newUser('kate', { roles: ['ops-team'] }));
      expect(count(/^POST .*\/users$/)).toBe(posts + 1);
    });
  });
}
