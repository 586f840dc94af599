/**
 * Recorded provisioning sequences for `airflow-scim demo --replay`, in each IdP's dialect
 * (shapes from ../shared/docs/scim-idp.md §A1.2, §A1.4, §A2.2). `{{user:x}}` / `{{group:x}}` are replaced by ids
 * the server assigned earlier in the sequence.
 */
export interface DemoStep {
  say: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  /** Remember the returned id under this name. */
  save?: string;
  /** The demo's tutorial phase: provisioning (default) or a deprovision, shown after the provisioning settled. */
  phase?: 'provision' | 'deprovision';
}

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const ENT = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';

const oktaUser = (login: string, given: string, family: string, oktaId: string) => ({
  schemas: [USER],
  userName: login,
  name: { givenName: given, familyName: family },
  emails: [{ primary: true, value: login, type: 'work' }],
  displayName: `${given} ${family}`,
  locale: 'en-US',
  externalId: oktaId,
  groups: [],
  password: 'placeholder-okta-always-sends',
  active: true,
});

export const OKTA: DemoStep[] = [
  { say: 'Okta tests the connection', method: 'GET', path: '/Users?startIndex=1&count=2' },
  { say: 'Okta checks whether alice exists', method: 'GET', path: '/Users?filter=userName%20eq%20%22alice%40example.com%22&startIndex=1&count=100' },
  { say: 'Okta creates alice', method: 'POST', path: '/Users', body: oktaUser('alice@example.com', 'Alice', 'Admin', '00u1alice'), save: 'alice' },
  { say: 'Okta creates bob', method: 'POST', path: '/Users', body: oktaUser('bob@example.com', 'Bob', 'Builder', '00u2bob'), save: 'bob' },
  { say: 'Okta creates carol', method: 'POST', path: '/Users', body: oktaUser('carol@example.com', 'Carol', 'Viewer', '00u3carol'), save: 'carol' },
  { say: 'Group push: airflow-admins', method: 'POST', path: '/Groups', body: { schemas: [GROUP], displayName: 'airflow-admins', members: [] }, save: 'admins' },
  { say: 'Group push: data-engineers', method: 'POST', path: '/Groups', body: { schemas: [GROUP], displayName: 'data-engineers', members: [] }, save: 'eng' },
  {
    say: 'Okta pushes alice into airflow-admins',
    method: 'PATCH',
    path: '/Groups/{{group:admins}}',
    body: { schemas: [PATCH], Operations: [{ op: 'replace', value: { id: '{{group:admins}}', displayName: 'airflow-admins' } }, { op: 'add', path: 'members', value: [{ value: '{{user:alice}}', display: 'alice@example.com' }] }] },
  },
  {
    say: 'Okta pushes bob and carol into data-engineers',
    method: 'PATCH',
    path: '/Groups/{{group:eng}}',
    body: { schemas: [PATCH], Operations: [{ op: 'add', path: 'members', value: [{ value: '{{user:bob}}' }, { value: '{{user:carol}}' }] }] },
  },
  { phase: 'deprovision', say: 'Okta deactivates carol (Okta never deletes)', method: 'PATCH', path: '/Users/{{user:carol}}', body: { schemas: [PATCH], Operations: [{ op: 'replace', value: { active: false } }] } },
];

export const ENTRA: DemoStep[] = [
  { say: 'Entra tests the connection with a random id', method: 'GET', path: '/Users?filter=userName+eq+%22b5e7c1a2-0000-4000-8000-000000000000%22' },
  {
    say: 'Entra creates dana',
    method: 'POST',
    path: '/Users',
    body: {
      schemas: [USER, ENT],
      externalId: 'dana',
      userName: 'dana@contoso.com',
      active: true,
      emails: [{ primary: true, type: 'work', value: 'dana@contoso.com' }],
      meta: { resourceType: 'User' },
      name: { formatted: 'Dana Data', familyName: 'Data', givenName: 'Dana' },
      roles: [],
      title: null,
      [ENT]: { department: 'Analytics' },
    },
    save: 'dana',
  },
  {
    say: 'Entra creates eve',
    method: 'POST',
    path: '/Users',
    body: { schemas: [USER, ENT], externalId: 'eve', userName: 'eve@contoso.com', active: true, emails: [{ primary: true, type: 'work', value: 'eve@contoso.com' }], name: { familyName: 'Ops', givenName: 'Eve' } },
    save: 'eve',
  },
  {
    say: 'Entra creates the group data-engineers (no members yet)',
    method: 'POST',
    path: '/Groups',
    body: { schemas: [GROUP, 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'], externalId: 'grp-eng', displayName: 'data-engineers', meta: { resourceType: 'Group' } },
    save: 'eng',
  },
  {
    say: 'Entra adds dana and eve',
    method: 'PATCH',
    path: '/Groups/{{group:eng}}',
    body: { schemas: [PATCH], Operations: [{ op: 'Add', path: 'members', value: [{ $ref: null, value: '{{user:dana}}' }, { $ref: null, value: '{{user:eve}}' }] }] },
  },
  { say: 'Entra renames dana', method: 'PATCH', path: '/Users/{{user:dana}}', body: { schemas: [PATCH], Operations: [{ op: 'Replace', path: 'name.familyName', value: 'Dataworth' }] } },
  { phase: 'deprovision', say: 'Entra disables eve ("False" as a string)', method: 'PATCH', path: '/Users/{{user:eve}}', body: { schemas: [PATCH], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] } },
];
