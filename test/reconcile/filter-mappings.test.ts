/** Issue 12: mapping rules on the user's attributes (filter:), meaning exactly what the same filter returns from /Users. */
import { ConfigError, parseConfig } from '../../src/config/load';
import { ENTERPRISE_USER } from '../../src/core/schema';
import { desiredState } from '../../src/reconcile/desired';
import { explainUser, formatExplanation } from '../../src/reconcile/explain';
import type { RunReport } from '../../src/reconcile/types';
import { MemoryAuditLog } from '../../src/store/memory-audit';
import { MemoryIdentityStore } from '../../src/store/memory-identity';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import { parseFilter } from '../../src/scim/filter';

const FINANCE = `${ENTERPRISE_USER}:department eq "Finance"`;
const ctx = { actor: 'test' };

async function world() {
  const store = new MemoryIdentityStore(new MemoryAuditLog());
  const fin = await store.createUser({ userName: 'fiona', active: true, [ENTERPRISE_USER]: { department: 'Finance' } }, ctx);
  const eng = await store.createUser({ userName: 'eric', active: true, [ENTERPRISE_USER]: { department: 'Engineering' } }, ctx);
  const admins = await store.createGroup({ displayName: 'airflow-admins' }, [eng.id], ctx);
  const config = parseConfig({
    roles: { mappings: [{ filter: FINANCE, roles: ['finance-viewer'] }, { group: 'airflow-admins', roles: ['Admin'] }] },
  });
  return { store, fin, eng, admins, config };
}

test('a filter rule gives its roles to exactly the users the same filter returns from the SCIM API', async () => {
  const { store, config } = await world();
  const d = desiredState(await store.snapshot(), {
    usernameTemplate: '{userName}', mappings: config.roles.mappings, defaultRoles: [], custom: {},
  });
  expect(d.users.map((u) => [u.username, u.roles])).toEqual([['eric', ['Admin']], ['fiona', ['finance-viewer']]]);
  expect(d.users.find((u) => u.username === 'fiona')?.sources).toEqual([{ group: null, rule: `filter: ${FINANCE}`, roles: ['finance-viewer'], values: 'department = "Finance"' }]);
  // The same text as a list filter returns the same user.
  const listed = await store.listUsers({ filter: parseFilter(FINANCE), startIndex: 1, count: 100 });
  expect(listed.resources.map((u) => u.data.userName)).toEqual(['fiona']);
});

test('explain names the filter rule that gave the role', async () => {
  const { store, config } = await world();
  const e = await explainUser('fiona', { store, state: new MemoryReconcileState<RunReport>(), audit: new MemoryAuditLog(), config });
  expect(e.rules).toEqual([{ group: null, rule: `filter: ${FINANCE}`, roles: ['finance-viewer'], values: 'department = "Finance"' }]);
  expect(formatExplanation(e)).toContain(`filter: ${FINANCE} (the user's department = "Finance") -> finance-viewer`);
});

test('an invalid filter is refused at config load, naming the rule', () => {
  let err: unknown;
  try {
    parseConfig({ roles: { mappings: [{ group: 'ok', roles: ['Viewer'] }, { filter: 'department eq Finance', roles: ['X'] }] } });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ConfigError);
  expect((err as ConfigError).problems).toEqual([expect.stringMatching(/^roles\.mappings\.1\.filter: invalid filter: .*\(rule "department eq Finance"\)$/)]);
  expect(() => parseConfig({ roles: { mappings: [{ filter: FINANCE, group: 'x', roles: ['X'] }] } })).toThrow(/exactly one of group, groupExternalId, groupPattern or filter/);
});
