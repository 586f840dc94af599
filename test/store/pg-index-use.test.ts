/**
 * The lookups the stores make find their index in PostgreSQL (EXPLAIN), as migrations.test.ts shows for SQLite.
 * A few thousand rows and ANALYZE; enable_seqscan is off for the check (SET LOCAL, this transaction only),
 * because on tables this small a sequential scan can be as cheap and the planner may rightly choose it: the
 * question here is whether the index matches the query's expression at all (nocase(col) = nocase(?)), not cost.
 */
import { openPostgres, type PgDriver } from '../../src/store/sql/pg-driver';
import { freshSchema, type FreshSchema } from '../support/postgres';

let fresh: FreshSchema;
let db: PgDriver;
const N = 3000;

beforeAll(async () => {
  fresh = await freshSchema();
  db = await openPostgres(fresh.url, { schema: fresh.schema });
  await db.transaction(async (tx) => {
    await tx.run(
      `INSERT INTO users (id, user_name, external_id, display_name, doc, created, last_modified, seq)
       SELECT 'u' || i, 'User' || i || '@Example.com', 'ext' || i, 'Display ' || i, '{}', 't', 't', i FROM generate_series(1, ?::int) i`,
      [N],
    );
    await tx.run("INSERT INTO user_emails (user_id, value, type) SELECT id, user_name, 'work' FROM users");
    await tx.run(
      `INSERT INTO groups (id, display_name, external_id, doc, created, last_modified, seq)
       SELECT 'g' || i, 'Group ' || i, 'gext' || i, '{}', 't', 't', i FROM generate_series(1, 300) i`,
    );
    await tx.run("INSERT INTO group_members (group_id, user_id) SELECT 'g' || (1 + i % 300), 'u' || i FROM generate_series(1, ?::int) i", [N]);
    await tx.run(
      `INSERT INTO audit (at, source, actor, subject, action, outcome)
       SELECT '2026-11-' || lpad((1 + i % 28)::text, 2, '0') || 'T00:00:00Z', 'scim', 'okta', 'User' || i || '@Example.com', 'created', 'ok'
       FROM generate_series(1, ?::int) i`,
      [N],
    );
    await tx.run("INSERT INTO airflow_owned (username, how, since) SELECT 'User' || i || '@Example.com', 'created', 't' FROM generate_series(1, ?::int) i", [N]);
    await tx.run("INSERT INTO deprovision_events (at, username, kind) SELECT '2026-11-01T00:00:' || lpad((i % 60)::text, 2, '0') || 'Z', 'u' || i, 'deprovision' FROM generate_series(1, ?::int) i", [N]);
  });
  await db.run('ANALYZE');
});
afterAll(async () => {
  await db?.close();
  await fresh?.drop();
});

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

/** Every (node type, index) pair of the plan, depth first. */
function scans(node: PlanNode): string[] {
  const here = node['Index Name'] ? [`${node['Node Type']} on ${node['Index Name']}`] : [node['Node Type']];
  return [...here, ...(node.Plans ?? []).flatMap(scans)];
}

function nodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodes)];
}

async function explain(sql: string, params: unknown[]): Promise<PlanNode> {
  return db.transaction(async (tx) => {
    await tx.run('SET LOCAL enable_seqscan = off');
    const row = await tx.get<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(`EXPLAIN (FORMAT JSON) ${sql}`, params);
    return row!['QUERY PLAN'][0].Plan;
  });
}

const plan = async (sql: string, params: unknown[]) => scans(await explain(sql, params));

const INDEX_SCAN = /^(Index Scan|Index Only Scan|Bitmap Index Scan) on /;

describe('PostgreSQL lookups use their indexes', () => {
  test.each([
    ['userName eq (case-insensitive)', 'SELECT id FROM users WHERE nocase(user_name) = nocase(?)', ['user42@EXAMPLE.COM'], 'users_user_name'],
    ['userName sw (prefix, C collation)', "SELECT id FROM users WHERE nocase(user_name) LIKE nocase(?) ESCAPE '\\'", ['user4%'], 'users_user_name'],
    ['externalId eq', 'SELECT id FROM users WHERE external_id = ?', ['ext42'], 'users_external_id'],
    ['displayName eq', 'SELECT id FROM users WHERE nocase(display_name) = nocase(?)', ['display 42'], 'users_display_name'],
    ['emails.value eq', 'SELECT user_id FROM user_emails WHERE nocase(value) = nocase(?)', ['USER42@example.com'], 'user_emails_value'],
    ['emails of a user', 'SELECT value FROM user_emails WHERE user_id = ?', ['u42'], 'user_emails_user'],
    ['a page in insertion order', 'SELECT id FROM users WHERE seq > ? ORDER BY seq LIMIT 10', [100], 'users_seq'],
    ['group displayName eq', 'SELECT id FROM groups WHERE nocase(display_name) = nocase(?)', ['GROUP 7'], 'groups_display_name'],
    ['group externalId eq', 'SELECT id FROM groups WHERE external_id = ?', ['gext7'], 'groups_external_id'],
    ['groups in insertion order', 'SELECT id FROM groups WHERE seq > ? ORDER BY seq LIMIT 10', [10], 'groups_seq'],
    ['groups of a user', 'SELECT group_id FROM group_members WHERE user_id = ?', ['u42'], 'group_members_user'],
    ['members of a group', 'SELECT user_id FROM group_members WHERE group_id = ?', ['g7'], 'group_members_pkey'],
    ['audit by subject', 'SELECT id FROM audit WHERE nocase(subject) = nocase(?)', ['user42@example.COM'], 'audit_subject'],
    ['audit by time', 'SELECT id FROM audit WHERE at < ?', ['2026-11-02'], 'audit_at'],
    ['owned account by username', 'SELECT how FROM airflow_owned WHERE nocase(username) = nocase(?)', ['USER42@example.com'], 'airflow_owned_username'],
    ['deprovision window', 'SELECT count(*) FROM deprovision_events WHERE at >= ?', ['2026-11-01T00:00:58Z'], 'deprovision_events_at'],
  ])('%s', async (_name, sql, params, index) => {
    const nodes = await plan(sql, params);
    expect(nodes.filter((n) => INDEX_SCAN.test(n))).toEqual([expect.stringMatching(new RegExp(` on ${index}$`))]);
    expect(nodes).not.toContain('Seq Scan');
  });

  test('a userName prefix (SCIM sw) is a range on the index, not a filter over all of it: the C collation allows it', async () => {
    const top = await explain("SELECT id FROM users WHERE nocase(user_name) LIKE nocase(?) ESCAPE '\\'", ['user4%']);
    const conds = nodes(top).flatMap((n) => (n['Index Cond'] ? [n['Index Cond']] : []));
    expect(conds).toEqual([expect.stringMatching(/>= 'user4'.*< 'user5'/)]);
  });

  test('the index answers correctly too: a case-variant userName finds the one user', async () => {
    expect(await db.all('SELECT id FROM users WHERE nocase(user_name) = nocase(?)', ['USER42@example.COM'])).toEqual([{ id: 'u42' }]);
  });
});
