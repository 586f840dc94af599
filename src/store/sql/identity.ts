import { systemClock, uuidGenerator, type Clock, type IdGenerator } from '../../core/clock';
import { emailRows } from '../filter-attributes';
import {
  ConflictError,
  NotFoundError,
  PreconditionFailedError,
  type Change,
  type GroupChange,
  type GroupData,
  type GroupOfUser,
  type GroupRecord,
  type IdentitySnapshot,
  type IdentityStore,
  type ListQuery,
  type MemberRef,
  type Page,
  type SnapshotGroup,
  type UpdateOptions,
  type UserData,
  type UserRecord,
  type WriteContext,
  type WriteOptions,
} from '../types';
import { attributeDiff, jsonClone, MembershipDelta, scimAudit, writeKind } from '../write-audit';
import { SqlAuditLog } from './audit';
import { dialects, type SqlDialect } from './dialect';
import { isUniqueViolation, type SqlDriver, type SqlExecutor } from './driver';
import { listPage } from './list';
import { MemberWriter } from './members';

export interface ResourceRow {
  id: string;
  doc: string;
  created: string;
  last_modified: string;
  version: number;
  display_name: string | null;
  external_id: string | null;
}

const text = (v: unknown) => (typeof v === 'string' ? v : null);
const meta = (r: ResourceRow) => ({ created: r.created, lastModified: r.last_modified, version: Number(r.version) });
export const toUser = (r: ResourceRow): UserRecord => ({ id: r.id, data: JSON.parse(r.doc) as UserData, meta: meta(r) });
export const toGroup = (r: ResourceRow): GroupRecord => ({ id: r.id, data: JSON.parse(r.doc) as GroupData, meta: meta(r) });

/** 4 parameters a row: far below SQLite's 32,766 and PostgreSQL's 65,535 parameters per statement. */
const EMAILS_PER_STATEMENT = 500;

const GROUPS_OF_USER = 'SELECT g.id, g.display_name FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = ? ORDER BY g.seq';

/**
 * The identity store on SQL (SQLite or PostgreSQL, differences in dialect.ts). Every write is one journal
 * transaction: the row, user_emails, the journal row and the audit row commit together or not at all.
 */
export class SqlIdentityStore implements IdentityStore {
  private readonly d: SqlDialect;
  private readonly members: MemberWriter;

  constructor(
    private readonly db: SqlDriver,
    private readonly clock: Clock = systemClock,
    private readonly newId: IdGenerator = uuidGenerator,
  ) {
    this.d = dialects[db.dialect];
    this.members = new MemberWriter(this.d);
  }

  private now(): string {
    return this.clock.now().toISOString();
  }

  private write<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.db.transaction(fn, { journal: true });
  }

  private async journal(tx: SqlExecutor, at: string, resourceType: 'User' | 'Group', id: string, op: Change['op']): Promise<number> {
    const row = await tx.get<{ seq: number }>('INSERT INTO changes (at, resource_type, resource_id, op) VALUES (?, ?, ?, ?) RETURNING seq', [at, resourceType, id, op]);
    return Number(row!.seq);
  }

  private checkVersion(actual: number, opts?: WriteOptions): void {
    if (opts?.ifMatch !== undefined && opts.ifMatch !== actual) throw new PreconditionFailedError(opts.ifMatch, actual);
  }

  private async row(tx: SqlExecutor, rt: 'User' | 'Group', id: string): Promise<ResourceRow> {
    const row = await tx.get<ResourceRow>(`SELECT * FROM ${rt === 'User' ? 'users' : 'groups'} WHERE id = ?`, [id]);
    if (!row) throw new NotFoundError(rt, id);
    return row;
  }

  /** RFC 7643 §4.1.1 / §4.2: userName and group displayName are unique ignoring case. */
  private async checkUnique(tx: SqlExecutor, rt: 'User' | 'Group', value: string, self?: string): Promise<void> {
    const [table, column, attribute] = rt === 'User' ? ['users', 'user_name', 'userName'] : ['groups', 'display_name', 'displayName'];
    const hit = await tx.get<{ id: string }>(`SELECT id FROM ${table} WHERE ${this.d.ciEq(column)}`, [value]);
    if (hit && hit.id !== self) throw new ConflictError(attribute, value);
  }

  /**
   * Inserts the user row (write.seq: a create) or updates it (write.previous: the data before), then its
   * user_emails rows; an update rewrites those only when the emails changed, so deactivating a user with many
   * emails does not rewrite them.
   */
  private async writeUser(tx: SqlExecutor, id: string, data: UserData, at: string, created: string, version: number, write: { seq: number } | { previous: UserData }): Promise<void> {
    const cols = [data.userName, text(data.externalId), text(data.displayName), data.active === true ? 1 : 0, JSON.stringify(data)];
    try {
      if ('seq' in write) {
        await tx.run(
          `INSERT INTO users (id, user_name, external_id, display_name, active, doc, created, last_modified, version, seq)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [id, ...cols, created, at, version, write.seq],
        );
      } else {
        await tx.run(
          `UPDATE users SET user_name = ?, external_id = ?, display_name = ?, active = ?, doc = ?, last_modified = ?, version = ?
           WHERE id = ?`,
          [...cols, at, version, id],
        );
      }
    } catch (e) {
      if (isUniqueViolation(e)) throw new ConflictError('userName', data.userName);
      throw e;
    }
    const rows = emailRows(data);
    if ('previous' in write) {
      if (JSON.stringify(emailRows(write.previous)) === JSON.stringify(rows)) return;
      await tx.run('DELETE FROM user_emails WHERE user_id = ?', [id]);
    }
    // Many rows per statement: one round trip each would make a 24,000-email user cost 24,000 on PostgreSQL.
    for (let i = 0; i < rows.length; i += EMAILS_PER_STATEMENT) {
      const chunk = rows.slice(i, i + EMAILS_PER_STATEMENT);
      await tx.run(
        `INSERT INTO user_emails (user_id, value, type, is_primary) VALUES ${chunk.map(() => '(?, ?, ?, ?)').join(', ')}`,
        chunk.flatMap((e) => [id, e.value, e.type, e.primary ? 1 : 0]),
      );
    }
  }

  private async writeGroup(tx: SqlExecutor, id: string, data: GroupData, at: string, created: string, version: number, seq?: number): Promise<void> {
    const cols = [data.displayName, text(data.externalId), JSON.stringify(data)];
    try {
      if (seq !== undefined) {
        await tx.run(
          'INSERT INTO groups (id, display_name, external_id, doc, created, last_modified, version, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
          [id, ...cols, created, at, version, seq],
        );
      } else {
        await tx.run('UPDATE groups SET display_name = ?, external_id = ?, doc = ?, last_modified = ?, version = ? WHERE id = ?', [...cols, at, version, id]);
      }
    } catch (e) {
      if (isUniqueViolation(e)) throw new ConflictError('displayName', data.displayName);
      throw e;
    }
  }

  createUser(data: UserData, ctx: WriteContext): Promise<UserRecord> {
    return this.write(async (tx) => {
      const doc = jsonClone(data);
      await this.checkUnique(tx, 'User', doc.userName);
      const id = this.newId();
      const at = this.now();
      const seq = await this.journal(tx, at, 'User', id, 'create');
      await this.writeUser(tx, id, doc, at, at, 1, { seq });
      await SqlAuditLog.recordIn(tx, scimAudit(at, ctx, 'User', id, doc.userName, 'created', attributeDiff({}, doc)!));
      return { id, data: doc, meta: { created: at, lastModified: at, version: 1 } };
    });
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const row = await this.db.get<ResourceRow>('SELECT * FROM users WHERE id = ?', [id]);
    return row && toUser(row);
  }

  listUsers(q: ListQuery): Promise<Page<UserRecord>> {
    return listPage(this.db, 'User', q, toUser);
  }

  updateUser(id: string, fn: (current: UserRecord) => UserData, ctx: WriteContext, opts?: UpdateOptions): Promise<UserRecord> {
    return this.write(async (tx) => {
      const row = await this.row(tx, 'User', id);
      this.checkVersion(Number(row.version), opts);
      const current = toUser(row);
      const next = jsonClone(fn(toUser(row)));
      const diff = attributeDiff(current.data, next);
      if (!diff) return current; // idempotent write: no version bump, journal or audit
      await this.checkUnique(tx, 'User', next.userName, id);
      const at = this.now();
      const { op, action } = writeKind(opts);
      await this.journal(tx, at, 'User', id, op);
      const version = current.meta.version + 1;
      await this.writeUser(tx, id, next, at, row.created, version, { previous: current.data });
      await SqlAuditLog.recordIn(tx, scimAudit(at, ctx, 'User', id, next.userName, action, diff));
      return { id, data: next, meta: { created: row.created, lastModified: at, version } };
    });
  }

  deleteUser(id: string, ctx: WriteContext, opts?: WriteOptions): Promise<void> {
    return this.write(async (tx) => {
      const row = await this.row(tx, 'User', id);
      this.checkVersion(Number(row.version), opts);
      const data = JSON.parse(row.doc) as UserData;
      const groups = (await tx.all<{ id: string }>(GROUPS_OF_USER, [id])).map((g) => g.id);
      const at = this.now();
      await tx.run('DELETE FROM users WHERE id = ?', [id]); // memberships and emails go by FK cascade
      await this.journal(tx, at, 'User', id, 'delete');
      for (const g of groups) {
        await tx.run('UPDATE groups SET version = version + 1, last_modified = ? WHERE id = ?', [at, g]);
        await this.journal(tx, at, 'Group', g, 'patch');
      }
      const detail: Record<string, unknown> = { ...attributeDiff(data, {})! };
      if (groups.length) detail.leftGroups = groups.slice(0, 100);
      await SqlAuditLog.recordIn(tx, scimAudit(at, ctx, 'User', id, data.userName, 'deleted', detail));
    });
  }

  createGroup(data: GroupData, memberIds: string[], ctx: WriteContext): Promise<GroupRecord> {
    return this.write(async (tx) => {
      const doc = jsonClone(data);
      await this.checkUnique(tx, 'Group', doc.displayName);
      const id = this.newId();
      const at = this.now();
      const seq = await this.journal(tx, at, 'Group', id, 'create');
      await this.writeGroup(tx, id, doc, at, at, 1, seq);
      const delta = new MembershipDelta();
      await this.members.apply(tx, id, [{ op: 'add', ids: memberIds }], delta);
      await SqlAuditLog.recordIn(tx, scimAudit(at, ctx, 'Group', id, doc.displayName, 'created', { ...attributeDiff({}, doc), ...delta.detail() }));
      return { id, data: doc, meta: { created: at, lastModified: at, version: 1 } };
    });
  }

  async getGroup(id: string, opts: { members: boolean }): Promise<GroupRecord | undefined> {
    const row = await this.db.get<ResourceRow>('SELECT * FROM groups WHERE id = ?', [id]);
    if (!row) return undefined;
    const g = toGroup(row);
    if (opts.members) g.members = await this.membersOf(id);
    return g;
  }

  private membersOf(id: string): Promise<MemberRef[]> {
    const sql = `SELECT m.user_id AS value, u.user_name AS display FROM group_members m JOIN users u ON u.id = m.user_id
      WHERE m.group_id = ? ORDER BY ${this.d.ciOrder('u.user_name')}`;
    return this.db.all<MemberRef>(sql, [id]);
  }

  async listGroups(q: ListQuery, opts: { members: boolean }): Promise<Page<GroupRecord>> {
    const page = await listPage(this.db, 'Group', q, toGroup);
    if (opts.members) for (const g of page.resources) g.members = await this.membersOf(g.id);
    return page;
  }

  updateGroup(id: string, fn: (current: GroupRecord) => GroupChange, ctx: WriteContext, opts?: UpdateOptions): Promise<GroupRecord> {
    return this.write(async (tx) => {
      const row = await this.row(tx, 'Group', id);
      this.checkVersion(Number(row.version), opts);
      const current = toGroup(row);
      const change = fn(toGroup(row));
      const next = change.data ? jsonClone(change.data) : current.data;
      const diff = attributeDiff(current.data, next);
      if (diff) await this.checkUnique(tx, 'Group', next.displayName, id);
      const delta = new MembershipDelta();
      await this.members.apply(tx, id, change.memberOps ?? [], delta);
      if (!diff && !delta.changed) return current;
      const at = this.now();
      const { op, action } = writeKind(opts);
      await this.journal(tx, at, 'Group', id, op);
      const version = current.meta.version + 1;
      await this.writeGroup(tx, id, next, at, row.created, version);
      await SqlAuditLog.recordIn(tx, scimAudit(at, ctx, 'Group', id, next.displayName, action, { ...diff, ...delta.detail() }));
      return { id, data: next, meta: { created: row.created, lastModified: at, version } };
    });
  }

  deleteGroup(id: string, ctx: WriteContext, opts?: WriteOptions): Promise<void> {
    return this.write(async (tx) => {
      const row = await this.row(tx, 'Group', id);
      this.checkVersion(Number(row.version), opts);
      const data = JSON.parse(row.doc) as GroupData;
      const at = this.now();
      await tx.run('DELETE FROM groups WHERE id = ?', [id]);
      await this.journal(tx, at, 'Group', id, 'delete');
      await SqlAuditLog.recordIn(tx, scimAudit(at, ctx, 'Group', id, data.displayName, 'deleted', attributeDiff(data, {})!));
    });
  }

  async groupsOfUser(userId: string): Promise<GroupOfUser[]> {
    return (await this.db.all<{ id: string; display_name: string }>(GROUPS_OF_USER, [userId])).map((r) => ({ id: r.id, displayName: r.display_name }));
  }

  async latestSeq(): Promise<number> {
    return Number((await this.db.get<{ seq: number }>('SELECT COALESCE(MAX(seq), 0) AS seq FROM changes'))!.seq);
  }

  async changesSince(seq: number, limit = 1000): Promise<Change[]> {
    const rows = await this.db.all<{ seq: number; at: string; resource_type: Change['resourceType']; resource_id: string; op: Change['op'] }>(
      'SELECT seq, at, resource_type, resource_id, op FROM changes WHERE seq > ? ORDER BY seq LIMIT ?',
      [seq, limit],
    );
    return rows.map((r) => ({ seq: Number(r.seq), at: r.at, resourceType: r.resource_type, resourceId: r.resource_id, op: r.op }));
  }

  /** One read transaction, so users, groups, memberships and seq are mutually consistent. */
  snapshot(): Promise<IdentitySnapshot> {
    return this.db.transaction(
      async (tx) => {
        const members = new Map<string, string[]>();
        for (const m of await tx.all<{ group_id: string; user_id: string }>('SELECT group_id, user_id FROM group_members ORDER BY group_id, user_id')) {
          const list = members.get(m.group_id) ?? [];
          list.push(m.user_id);
          members.set(m.group_id, list);
        }
        const groups: SnapshotGroup[] = (await tx.all<ResourceRow>('SELECT * FROM groups ORDER BY seq')).map((g) => ({
          id: g.id,
          displayName: g.display_name!,
          ...(g.external_id !== null ? { externalId: g.external_id } : {}),
          memberIds: members.get(g.id) ?? [],
        }));
        const users = (await tx.all<ResourceRow>('SELECT * FROM users ORDER BY seq')).map(toUser);
        const seq = Number((await tx.get<{ seq: number }>('SELECT COALESCE(MAX(seq), 0) AS seq FROM changes'))!.seq);
        return { seq, users, groups };
      },
      { readOnly: true },
    );
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
