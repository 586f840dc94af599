import { openDatabase } from '../../src/store/database';
import type { AuditEntry, AuditLog } from '../../src/store/audit-types';
import { MemoryAuditLog } from '../../src/store/memory-audit';
import { MemoryTokenStore } from '../../src/store/memory-tokens';
import { SqlAuditLog } from '../../src/store/sql/audit';
import { SqlTokenStore } from '../../src/store/sql/tokens';
import { TokenExistsError, type TokenStore } from '../../src/store/token-types';
import { sqliteDriverFor } from '../../src/store/sql/sqlite-driver';
import { pgSchemaPerBlock } from '../support/pg-schema';

/** The behaviour every TokenStore must share (STYLE habit 1). */
function runTokenStoreContract(name: string, make: () => TokenStore): void {
  describe(`TokenStore contract: ${name}`, () => {
    test('create, duplicate name, revoke, re-create, expiry, touch', async () => {
      const t = make();
      await t.create({ name: 'okta', hash: 'h1', created: '2026-01-01T00:00:00Z' });
      await t.create({ name: 'entra', hash: 'h2', created: '2026-01-01T00:00:00Z', expiresAt: '2026-02-01T00:00:00Z' });
      await expect(t.create({ name: 'okta', hash: 'h3', created: '2026-01-02T00:00:00Z' })).rejects.toThrow(TokenExistsError);
      expect((await t.active('2026-01-15T00:00:00Z')).map((x) => x.name)).toEqual(['okta', 'entra']);
      expect((await t.active('2026-02-01T00:00:00Z')).map((x) => x.name)).toEqual(['okta']);
      await t.touch('okta', '2026-01-03T00:00:00Z');
      expect((await t.list())[0]).toEqual({ name: 'okta', hash: 'h1', created: '2026-01-01T00:00:00Z', lastUsed: '2026-01-03T00:00:00Z' });
      expect(await t.revoke('okta', '2026-01-04T00:00:00Z')).toBe(true);
      expect(await t.revoke('okta', '2026-01-05T00:00:00Z')).toBe(false);
      expect(await t.revoke('nobody', '2026-01-05T00:00:00Z')).toBe(false);
      expect((await t.active('2026-01-15T00:00:00Z')).map((x) => x.name)).toEqual(['entra']);
      await t.create({ name: 'okta', hash: 'h4', created: '2026-01-06T00:00:00Z' });
      expect((await t.list()).map((x) => [x.name, x.hash, x.revokedAt])).toEqual([
        ['okta', 'h1', '2026-01-04T00:00:00Z'],
        ['entra', 'h2', undefined],
        ['okta', 'h4', undefined],
      ]);
    });
  });
}

/** The behaviour every AuditLog must share (STYLE habit 1). */
function runAuditLogContract(name: string, make: () => AuditLog): void {
  describe(`AuditLog contract: ${name}`, () => {
    const entry = (at: string, subject: string, source: AuditEntry['source'], extra: Partial<AuditEntry> = {}): AuditEntry => ({
      at, source, actor: 'okta', subject, action: 'created', outcome: 'success', ...extra,
    });

    test('round-trips entries with JSON detail, oldest first, filtered by since/subject/source/limit', async () => {
      const log = make();
      await log.record(entry('2026-01-01T00:00:00.000Z', 'Alice', 'scim', { clientIp: '10.0.0.1', detail: { before: {}, after: { title: 'x' } }, status: 201 }));
      await log.record(entry('2026-01-02T00:00:00.000Z', 'bob', 'airflow'));
      await log.record(entry('2026-01-03T00:00:00.000Z', 'ALICE', 'scim', { action: 'deleted' }));
      const all = await log.query({});
      expect(all.map((e) => e.id)).toEqual([1, 2, 3]);
      expect(all[0]).toEqual({
        id: 1, at: '2026-01-01T00:00:00.000Z', source: 'scim', actor: 'okta', subject: 'Alice', action: 'created', outcome: 'success',
        clientIp: '10.0.0.1', status: 201, detail: { before: {}, after: { title: 'x' } },
      });
      expect((await log.query({ subject: 'alice' })).map((e) => e.id)).toEqual([1, 3]);
      expect((await log.query({ source: 'airflow' })).map((e) => e.subject)).toEqual(['bob']);
      expect((await log.query({ since: new Date('2026-01-02T00:00:00Z') })).map((e) => e.id)).toEqual([2, 3]);
      expect((await log.query({ limit: 2 })).map((e) => e.id)).toEqual([2, 3]); // the newest two, oldest first
      all[0].detail!.before = 'mutated';
      expect((await log.query({}))[0].detail).toEqual({ before: {}, after: { title: 'x' } });
    });
  });
}

runTokenStoreContract('SqlTokenStore', () => new SqlTokenStore(sqliteDriverFor(openDatabase(':memory:'))));
runTokenStoreContract('MemoryTokenStore', () => new MemoryTokenStore());
runAuditLogContract('SqlAuditLog', () => new SqlAuditLog(sqliteDriverFor(openDatabase(':memory:'))));
runAuditLogContract('MemoryAuditLog', () => new MemoryAuditLog());
describe('PostgreSQL', () => {
  const pg = pgSchemaPerBlock();
  runTokenStoreContract('SqlTokenStore on PostgreSQL', () => new SqlTokenStore(pg.shared()));
  runAuditLogContract('SqlAuditLog on PostgreSQL', () => new SqlAuditLog(pg.shared()));
});
