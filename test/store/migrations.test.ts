import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrate, openDatabase } from '../../src/store/database';
import { MIGRATIONS } from '../../src/store/migrations';

describe('migrations', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scim-migrations-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a fresh database ends at user_version = MIGRATIONS.length with foreign keys on', () => {
    const db = openDatabase(':memory:');
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(['users', 'user_emails', 'groups', 'group_members', 'changes', 'audit', 'tokens', 'kv']));
    db.close();
  });

  test('a file database uses WAL and synchronous FULL; reopening is a no-op that keeps data', () => {
    const file = path.join(dir, 'nested', 'state.db');
    const db = openDatabase(file);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    db.prepare("INSERT INTO kv (key, value) VALUES ('k', 'v')").run();
    db.close();
    const again = openDatabase(file);
    expect(again.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    // Running the migrations again on a migrated file changes nothing: same version, same schema.
    const schema = () => again.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY type, name').all();
    const before = schema();
    migrate(again);
    expect(again.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(schema()).toEqual(before);
    expect(again.prepare("SELECT value FROM kv WHERE key = 'k'").get()).toEqual({ value: 'v' });
    expect(again.pragma('foreign_keys', { simple: true })).toBe(1);
    again.close();
  });

  test('a database from a newer release is refused', () => {
    const file = path.join(dir, 'new.db');
    const db = openDatabase(file);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => openDatabase(file)).toThrow(/newer than this release/);
  });
});
