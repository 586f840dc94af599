import type Database from 'better-sqlite3';
import { systemClock, uuidGenerator, type Clock, type IdGenerator } from '../core/clock';
import type { AuditEntry, AuditLog } from './audit-types';
import type { Db } from './database';
import { emailRows } from './filter-attributes';
import { compileFilter, compileSort } from './filter-sql';
import {
  ConflictError,
  InvalidMemberError,
  NotFoundError,
  PreconditionFailedError,
  type Change,
  type GroupChange,
  type GroupData,
  type GroupRecord,
  type IdentitySnapshot,
  type IdentityStore,
  type ListQuery,
  type MemberOp,
  type MemberRef,
  type Page,
  type SnapshotGroup,
  type UpdateOptions,
  type UserData,
  type UserRecord,
  type WriteContext,
  type WriteOptions,
} from './types';
import { attributeDiff, jsonClone, MembershipDelta, scimAudit, writeKind } from './write-audit';

interface UserRow {
  id: string;
  doc: string;
  created: string;
  last_modified: string;
  version: number;
}
interface GroupRow extends UserRow {
  display_name: string;
  external_id: string | null;
}

const text = (v: unknown) => (typeof v === 'string' ? v : null);
const toUser = (r: UserRow): UserRecord => ({
  id: r.id,
  data: JSON.parse(r.doc) as UserData,
  meta: { created: r.created, lastModified: r.last_modified, version: r.version },
});
const toGroup = (r: UserRow): GroupRecord => ({
  id: r.id,
  data: JSON.parse(r.doc) as GroupData,
  meta: { created: r.created, lastModified: r.last_modified, version: r.version },
});
const isUnique = (e: unknown) => (e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';

/** The SQLite identity store. Every write is one transaction: row, user_emails, journal row, audit row. */
export class SqliteIdentityStore implements IdentityStore {
  private readonly s: Record<string, Database.Statement>;
  /** Filtered list statements, keyed by SQL text (bounded). */
  private readonly listCache = new Map<string, Database.Statement>();

  constructor(
    private readonly db: Db,
    private readonly audit: AuditLog,
    private readonly clock: Clock = systemClock,
    private readonly newId: IdGenerator = uuidGenerator,
  ) {
    const p = (sql: string) => db.prepare(sql);
    this.s = {
      journal: p('INSERT INTO changes (at, resource_type, resource_id, op) VALUES (?, ?, ?, ?)'),
      latestSeq: p('SELECT COALESCE(MAX(seq), 0) AS seq FROM changes'),
      changesSince: p('SELECT seq, at, resource_type, resource_id, op FROM changes WHERE seq > ? ORDER BY seq LIMIT ?'),
      getUser: p('SELECT * FROM users WHERE id = ?'),
      userByName: p('SELECT id FROM users WHERE user_name = ?'),
      insertUser: p(`INSERT INTO users (id, user_name, external_id, display_name, active, doc, created, last_modified, version, seq)
        VALUES (@id, @user_name, @external_id, @display_name, @active, @doc, @created, @last_modified, @version, @seq)`),
      updateUser: p(`UPDATE users SET user_name = @user_name, external_id = @external_id, display_name = @display_name,
        active = @active, doc = @doc, last_modified = @last_modified, version = @version WHERE id = @id`),
      deleteUser: p('DELETE FROM users WHERE id = ?'),
      deleteEmails: p('DELETE FROM user_emails WHERE user_id = ?'),
      insertEmail: p('INSERT INTO user_emails (user_id, value, type, is_primary) VALUES (?, ?, ?, ?)'),
      isGroup: p('SELECT 1 FROM groups WHERE id = ?'),
      getGroup: p('SELECT * FROM groups WHERE id = ?'),
      groupByName: p('SELECT id FROM groups WHERE display_name = ?'),
      insertGroup: p(`INSERT INTO groups (id, display_name, external_id, doc, created, last_modified, version, seq)
        VALUES (@id, @display_name, @external_id, @doc, @created, @last_modified, @version, @seq)`),
      updateGroup: p(`UPDATE groups SET display_name = @display_name, external_id = @external_id, doc = @doc,
        last_modified = @last_modified, version = @version WHERE id = @id`),
      bumpGroup: p('UPDATE groups SET version = version + 1, last_modified = ? WHERE id = ?'),
      deleteGroup: p('DELETE FROM groups WHERE id = ?'),
      // Set-based membership edits: one statement per op, not per member, keeps a 20,000-member PATCH short.
      addMembers: p('INSERT OR IGNORE INTO group_members (group_id, user_id) SELECT ?, value FROM json_each(?) ORDER BY key RETURNING user_id'),
      removeMembers: p('DELETE FROM group_members WHERE group_id = ? AND user_id IN (SELECT value FROM json_each(?)) RETURNING user_id'),
      firstNonUser: p('SELECT value FROM json_each(?) j WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = j.value) ORDER BY key LIMIT 1'),
      removeAll: p('DELETE FROM group_members WHERE group_id = ?'),
      removeOthers: p('DELETE FROM group_members WHERE group_id = ? AND user_id NOT IN (SELECT value FROM json_each(?)) RETURNING user_id'),
      members: p(`SELECT m.user_id AS value, u.user_name AS display FROM group_members m JOIN users u ON u.id = m.user_id
        WHERE m.group_id = ? ORDER BY u.user_name`),
      groupsOfUser: p('SELECT m.group_id AS id FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = ? ORDER BY g.seq'),
      allUsers: p('SELECT * FROM users ORDER BY seq'),
      allGroups: p('SELECT * FROM groups ORDER BY seq'),
      allMembers: p('SELECT group_id, user_id FROM group_members ORDER BY group_id, user_id'),
    };
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  /**
   * Runs fn in one better-sqlite3 transaction. The audit entries it records join that transaction (SqliteAuditLog
   * writes, and fails, synchronously); their promises are awaited once it has committed.
   */
  private async write<T>(fn: (audit: (e: AuditEntry) => void) => T): Promise<T> {
    const pending: Promise<void>[] = [];
    try {
      return this.db.transaction(() => fn((e) => void pending.push(this.audit.record(e))))();
    } finally {
      await Promise.all(pending);
    }
  }

  private journal(at: string, resourceType: 'User' | 'Group', id: string, op: Change['op']): number {
    return Number(this.s.journal.run(at, resourceType, id, op).lastInsertRowid);
  }

  private checkVersion(actual: number, opts?: WriteOptions): void {
    if (opts?.ifMatch !== undefined && opts.ifMatch !== actual) throw new PreconditionFailedError(opts.ifMatch, actual);
  }

  private userRow(id: string): UserRow {
    const row = this.s.getUser.get(id) as UserRow | undefined;
    if (!row) throw new NotFoundError('User', id);
    return row;
  }

  private groupRow(id: string): GroupRow {
    const row = this.s.getGroup.get(id) as GroupRow | undefined;
    if (!row) throw new NotFoundError('Group', id);
    return row;
  }

  /** RFC 7643 §4.1.1 / §4.2: userName and group displayName are unique case-insensitively (COLLATE NOCASE columns). */
  private checkUnique(stmt: Database.Statement, attribute: string, value: string, self?: string): void {
    const hit = stmt.get(value) as { id: string } | undefined;
    if (hit && hit.id !== self) throw new ConflictError(attribute, value);
  }

  private writeUser(stmt: Database.Statement, id: string, data: UserData, at: string, created: string, version: number, seq?: number): void {
    try {
      stmt.run({
        id,
        user_name: data.userName,
        external_id: text(data.externalId),
        display_name: text(data.displayName),
        active: data.active === true ? 1 : 0,
        doc: JSON.stringify(data),
        created,
        last_modified: at,
        version,
        ...(seq === undefined ? {} : { seq }),
      });
    } catch (e) {
      if (isUnique(e)) throw new ConflictError('userName', data.userName);
      throw e;
    }
    this.s.deleteEmails.run(id);
    for (const e of emailRows(data)) this.s.insertEmail.run(id, e.value, e.type, e.primary ? 1 : 0);
  }

  async createUser(data: UserData, ctx: WriteContext): Promise<UserRecord> {
    return this.write((audit) => {
      const doc = jsonClone(data);
      this.checkUnique(this.s.userByName, 'userName', doc.userName);
      const id = this.newId();
      const at = this.now();
      const seq = this.journal(at, 'User', id, 'create');
      this.writeUser(this.s.insertUser, id, doc, at, at, 1, seq);
      audit(scimAudit(at, ctx, 'User', id, doc.userName, 'created', attributeDiff({}, doc)!));
      return toUser(this.userRow(id));
    });
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const row = this.s.getUser.get(id) as UserRow | undefined;
    return row && toUser(row);
  }

  async listUsers(q: ListQuery): Promise<Page<UserRecord>> {
    return this.list('users u', 'User', q, (r) => toUser(r));
  }

  async updateUser(id: string, fn: (current: UserRecord) => UserData, ctx: WriteContext, opts?: UpdateOptions): Promise<UserRecord> {
    return this.write((audit) => {
      const row = this.userRow(id);
      this.checkVersion(row.version, opts);
      const current = toUser(row);
      const next = jsonClone(fn(toUser(row)));
      const diff = attributeDiff(current.data, next);
      if (!diff) return current; // idempotent write: no version bump, journal or audit
      this.checkUnique(this.s.userByName, 'userName', next.userName, id);
      const at = this.now();
      const { op, action } = writeKind(opts);
      this.journal(at, 'User', id, op);
      this.writeUser(this.s.updateUser, id, next, at, row.created, row.version + 1);
      audit(scimAudit(at, ctx, 'User', id, next.userName, action, diff));
      return toUser(this.userRow(id));
    });
  }

  async deleteUser(id: string, ctx: WriteContext, opts?: WriteOptions): Promise<void> {
    return this.write((audit) => {
      const row = this.userRow(id);
      this.checkVersion(row.version, opts);
      const data = JSON.parse(row.doc) as UserData;
      const groups = (this.s.groupsOfUser.all(id) as { id: string }[]).map((g) => g.id);
      const at = this.now();
      this.s.deleteUser.run(id); // memberships and emails go by FK cascade
      this.journal(at, 'User', id, 'delete');
      for (const g of groups) {
        this.s.bumpGroup.run(at, g);
        this.journal(at, 'Group', g, 'patch');
      }
      const detail: Record<string, unknown> = { ...attributeDiff(data, {})! };
      if (groups.length) detail.leftGroups = groups.slice(0, 100);
      audit(scimAudit(at, ctx, 'User', id, data.userName, 'deleted', detail));
    });
  }

  /** Validates member ids: users only (RFC 7643 §4.2 allows groups; Airflow has no nesting). */
  private checkMembers(ids: readonly string[]): void {
    const miss = this.s.firstNonUser.get(JSON.stringify(ids)) as { value: string } | undefined;
    if (miss) throw new InvalidMemberError(miss.value, this.s.isGroup.get(miss.value) ? 'group' : 'unknown');
  }

  private addMembers(groupId: string, ids: readonly string[], delta: MembershipDelta): void {
    const added = (this.s.addMembers.all(groupId, JSON.stringify(ids)) as { user_id: string }[]).map((r) => r.user_id);
    // RETURNING order is unspecified: report in request order.
    const got = new Set(added);
    delta.added.push(...ids.filter((m) => got.has(m)));
  }

  /** Applies membership ops one id at a time: O(ids), never O(group size) (except replace, which must drop the rest). */
  private applyMemberOps(groupId: string, ops: readonly MemberOp[], delta: MembershipDelta): void {
    for (const op of ops) {
      switch (op.op) {
        case 'add':
          this.checkMembers(op.ids);
          this.addMembers(groupId, op.ids, delta);
          break;
        case 'remove': {
          const gone = new Set((this.s.removeMembers.all(groupId, JSON.stringify(op.ids)) as { user_id: string }[]).map((r) => r.user_id));
          const removed = op.ids.filter((m) => gone.has(m));
          delta.removed.push(...removed);
          delta.removedCount += removed.length;
          break;
        }
        case 'removeAll': {
          const n = this.s.removeAll.run(groupId).changes;
          if (n) {
            delta.removedAll = true;
            delta.removedCount += n;
          }
          break;
        }
        case 'replace': {
          this.checkMembers(op.ids);
          const gone = (this.s.removeOthers.all(groupId, JSON.stringify(op.ids)) as { user_id: string }[]).map((r) => r.user_id).sort();
          delta.removed.push(...gone);
          delta.removedCount += gone.length;
          this.addMembers(groupId, op.ids, delta);
          break;
        }
      }
    }
  }

  private writeGroup(stmt: Database.Statement, id: string, data: GroupData, at: string, created: string, version: number, seq?: number): void {
    try {
      stmt.run({
        id,
        display_name: data.displayName,
        external_id: text(data.externalId),
        doc: JSON.stringify(data),
        created,
        last_modified: at,
        version,
        ...(seq === undefined ? {} : { seq }),
      });
    } catch (e) {
      if (isUnique(e)) throw new ConflictError('displayName', data.displayName);
      throw e;
    }
  }

  async createGroup(data: GroupData, memberIds: string[], ctx: WriteContext): Promise<GroupRecord> {
    return this.write((audit) => {
      const doc = jsonClone(data);
      this.checkUnique(this.s.groupByName, 'displayName', doc.displayName);
      const id = this.newId();
      const at = this.now();
      const seq = this.journal(at, 'Group', id, 'create');
      this.writeGroup(this.s.insertGroup, id, doc, at, at, 1, seq);
      const delta = new MembershipDelta();
      this.applyMemberOps(id, [{ op: 'add', ids: memberIds }], delta);
      audit(scimAudit(at, ctx, 'Group', id, doc.displayName, 'created', { ...attributeDiff({}, doc), ...delta.detail() }));
      return toGroup(this.groupRow(id));
    });
  }

  async getGroup(id: string, opts: { members: boolean }): Promise<GroupRecord | undefined> {
    const row = this.s.getGroup.get(id) as GroupRow | undefined;
    if (!row) return undefined;
    const g = toGroup(row);
    if (opts.members) g.members = this.membersOf(id);
    return g;
  }

  private membersOf(id: string): MemberRef[] {
    return this.s.members.all(id) as MemberRef[];
  }

  async listGroups(q: ListQuery, opts: { members: boolean }): Promise<Page<GroupRecord>> {
    return this.list('groups g', 'Group', q, (r) => {
      const g = toGroup(r);
      if (opts.members) g.members = this.membersOf(g.id);
      return g;
    });
  }

  async updateGroup(id: string, fn: (current: GroupRecord) => GroupChange, ctx: WriteContext, opts?: UpdateOptions): Promise<GroupRecord> {
    return this.write((audit) => {
      const row = this.groupRow(id);
      this.checkVersion(row.version, opts);
      const current = toGroup(row);
      const change = fn(toGroup(row));
      const next = change.data ? jsonClone(change.data) : current.data;
      const diff = attributeDiff(current.data, next);
      if (diff) this.checkUnique(this.s.groupByName, 'displayName', next.displayName, id);
      const delta = new MembershipDelta();
      this.applyMemberOps(id, change.memberOps ?? [], delta);
      if (!diff && !delta.changed) return current;
      const at = this.now();
      const { op, action } = writeKind(opts);
      this.journal(at, 'Group', id, op);
      this.writeGroup(this.s.updateGroup, id, next, at, row.created, row.version + 1);
      audit(scimAudit(at, ctx, 'Group', id, next.displayName, action, { ...diff, ...delta.detail() }));
      return toGroup(this.groupRow(id));
    });
  }

  async deleteGroup(id: string, ctx: WriteContext, opts?: WriteOptions): Promise<void> {
    return this.write((audit) => {
      const row = this.groupRow(id);
      this.checkVersion(row.version, opts);
      const data = JSON.parse(row.doc) as GroupData;
      const at = this.now();
      this.s.deleteGroup.run(id);
      this.journal(at, 'Group', id, 'delete');
      audit(scimAudit(at, ctx, 'Group', id, data.displayName, 'deleted', attributeDiff(data, {})!));
    });
  }

  async groupsOfUser(userId: string): Promise<string[]> {
    return (this.s.groupsOfUser.all(userId) as { id: string }[]).map((r) => r.id);
  }

  async latestSeq(): Promise<number> {
    return this.seqNow();
  }

  private seqNow(): number {
    return (this.s.latestSeq.get() as { seq: number }).seq;
  }

  async changesSince(seq: number, limit = 1000): Promise<Change[]> {
    const rows = this.s.changesSince.all(seq, limit) as { seq: number; at: string; resource_type: Change['resourceType']; resource_id: string; op: Change['op'] }[];
    return rows.map((r) => ({ seq: r.seq, at: r.at, resourceType: r.resource_type, resourceId: r.resource_id, op: r.op }));
  }

  /** One read transaction, so users, groups, memberships and seq are mutually consistent. */
  async snapshot(): Promise<IdentitySnapshot> {
    return this.db.transaction(() => {
      const members = new Map<string, string[]>();
      for (const m of this.s.allMembers.all() as { group_id: string; user_id: string }[]) {
        const list = members.get(m.group_id) ?? [];
        list.push(m.user_id);
        members.set(m.group_id, list);
      }
      const groups: SnapshotGroup[] = (this.s.allGroups.all() as GroupRow[]).map((g) => ({
        id: g.id,
        displayName: g.display_name,
        ...(g.external_id !== null ? { externalId: g.external_id } : {}),
        memberIds: members.get(g.id) ?? [],
      }));
      return { seq: this.seqNow(), users: (this.s.allUsers.all() as UserRow[]).map(toUser), groups };
    })();
  }

  async close(): Promise<void> {
    this.db.close();
  }

  /** RFC 7644 §3.4.2: totalResults from a count query, then one page (count 0: totals only). */
  private list<T>(from: string, rt: 'User' | 'Group', q: ListQuery, map: (r: GroupRow) => T): Page<T> {
    const { where, params } = q.filter ? compileFilter(q.filter, rt) : { where: '1', params: [] };
    const order = compileSort(rt, q.sortBy, q.sortOrder);
    const alias = rt === 'User' ? 'u' : 'g';
    const total = (this.cached(`SELECT COUNT(*) AS n FROM ${from} WHERE ${where}`).get(...params) as { n: number }).n;
    if (q.count <= 0 || total === 0) return { totalResults: total, resources: [] };
    const offset = Math.max(1, q.startIndex) - 1;
    const rows = this.cached(`SELECT ${alias}.* FROM ${from} WHERE ${where} ${order} LIMIT ? OFFSET ?`).all(...params, q.count, offset);
    return { totalResults: total, resources: (rows as GroupRow[]).map(map) };
  }

  private cached(sql: string): Database.Statement {
    let st = this.listCache.get(sql);
    if (!st) {
      if (this.listCache.size >= 256) this.listCache.delete(this.listCache.keys().next().value!);
      st = this.db.prepare(sql);
      this.listCache.set(sql, st);
    }
    return st;
  }
}
