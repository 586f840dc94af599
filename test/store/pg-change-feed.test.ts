/**
 * LISTEN/NOTIFY on the change journal against the embedded PostgreSQL: a write through one driver (one replica)
 * reaches a subscriber of another; the channel fits long schema names; a lost LISTEN connection comes back and
 * says "read the journal". No durations are asserted, only that the events arrive.
 */
import pg from 'pg';
import { SqlIdentityStore } from '../../src/store/sql/identity';
import { changeChannel } from '../../src/store/sql/pg-change-feed';
import { openPostgres, type PgDriver } from '../../src/store/sql/pg-driver';
import { freshSchema, testDatabaseUrl, type FreshSchema } from '../support/postgres';

const ctx = { actor: 'test' };
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function twoReplicas(schema?: string): Promise<{ writer: PgDriver; reader: PgDriver; fresh: FreshSchema }> {
  const fresh = schema ? { url: testDatabaseUrl(), schema, drop: async () => void (await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)) } : await freshSchema(undefined, { create: false });
  cleanup.push(() => fresh.drop());
  const writer = await openPostgres(fresh.url, { schema: fresh.schema, poolSize: 2 });
  const reader = await openPostgres(fresh.url, { schema: fresh.schema, poolSize: 2 });
  cleanup.push(() => writer.close(), () => reader.close());
  return { writer, reader, fresh };
}

async function admin(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: testDatabaseUrl() });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

/** Collects what a subscriber hears; next(pred) resolves with the first event matching it. */
function recorder() {
  const heard: Array<number | undefined> = [];
  const waiters: Array<{ pred: (s: number | undefined) => boolean; resolve: (s: number | undefined) => void }> = [];
  const on = (seq?: number) => {
    heard.push(seq);
    for (const w of waiters.splice(0)) {
      if (w.pred(seq)) w.resolve(seq);
      else waiters.push(w);
    }
  };
  const next = (pred: (s: number | undefined) => boolean, what: string) =>
    new Promise<number | undefined>((resolve, reject) => {
      const found = heard.find(pred);
      if (heard.some(pred)) return resolve(found);
      const t = setTimeout(() => reject(new Error(`never heard ${what}; heard ${JSON.stringify(heard)}`)), 10_000);
      waiters.push({ pred, resolve: (s) => (clearTimeout(t), resolve(s)) });
    });
  return { heard, on, next };
}

const listeners = async (channel: string) =>
  (await admin("SELECT pid FROM pg_stat_activity WHERE application_name = 'airflow-scim-sync changes' AND query = $1", [`LISTEN "${channel}"`])).rows as Array<{ pid: number }>;

describe('PostgreSQL change feed (LISTEN/NOTIFY)', () => {
  test("a change committed through one replica's driver reaches another's subscriber, with its journal seq", async () => {
    const { writer, reader } = await twoReplicas();
    const r = recorder();
    const unsubscribe = reader.changes.subscribe(r.on);
    await r.next((s) => s === undefined, 'the "read the journal" after connecting');
    const store = new SqlIdentityStore(writer);
    await store.createUser({ userName: 'alice', active: true }, ctx);
    const seq = await store.latestSeq();
    expect(await r.next((s) => s === seq, `seq ${seq}`)).toBe(seq);
    // A rolled-back write notifies nobody (NOTIFY is delivered at COMMIT).
    await expect(writer.transaction(async (tx) => {
      await tx.run("INSERT INTO changes (at, resource_type, resource_id, op) VALUES ('x', 'User', 'u', 'create')");
      throw new Error('rolled back');
    }, { journal: true })).rejects.toThrow('rolled back');
    await store.createUser({ userName: 'bob', active: true }, ctx);
    const after = await store.latestSeq();
    await r.next((s) => s === after, `seq ${after}`);
    expect(r.heard.filter((s) => s !== undefined)).toEqual([seq, after]);
    unsubscribe();
  });

  test('the connection opens with the first subscriber and closes with the last', async () => {
    const { reader, fresh } = await twoReplicas();
    const channel = changeChannel(fresh.schema);
    expect(await listeners(channel)).toEqual([]);
    const r = recorder();
    const a = reader.changes.subscribe(r.on);
    const b = reader.changes.subscribe(() => undefined);
    await r.next((s) => s === undefined, 'connected');
    expect(await listeners(channel)).toHaveLength(1);
    a();
    expect(await listeners(channel)).toHaveLength(1);
    b();
    for (let i = 0; i < 100 && (await listeners(channel)).length > 0; i++) await new Promise((res) => setTimeout(res, 20));
    expect(await listeners(channel)).toEqual([]);
  });

  test('a schema name of 63 characters: the channel is cut to fit, the same way in the trigger and in the feed', async () => {
    const schema = `t_${'x'.repeat(55)}${Math.random().toString(36).slice(2, 8).padEnd(6, '0')}`;
    expect(schema).toHaveLength(63);
    expect(changeChannel(schema)).toHaveLength(63);
    const { writer, reader } = await twoReplicas(schema);
    const r = recorder();
    reader.changes.subscribe(r.on);
    await r.next((s) => s === undefined, 'connected');
    const store = new SqlIdentityStore(writer);
    await store.createUser({ userName: 'carol', active: true }, ctx);
    const seq = await store.latestSeq();
    await r.next((s) => s === seq, `seq ${seq}`);
  });

  test('a LISTEN connection killed by the server comes back, says "read the journal", and hears changes again', async () => {
    const { writer, reader, fresh } = await twoReplicas();
    const r = recorder();
    reader.changes.subscribe(r.on);
    await r.next((s) => s === undefined, 'connected');
    const [{ pid }] = await listeners(changeChannel(fresh.schema));
    await admin('SELECT pg_terminate_backend($1)', [pid]);
    const store = new SqlIdentityStore(writer);
    await store.createUser({ userName: 'dave', active: true }, ctx); // committed while nobody listens: lost
    const before = r.heard.length;
    await r.next((s) => s === undefined && r.heard.length > before, 'the "read the journal" after reconnecting');
    await store.createUser({ userName: 'erin', active: true }, ctx);
    const seq = await store.latestSeq();
    await r.next((s) => s === seq, `seq ${seq} after the reconnect`);
  });
});
