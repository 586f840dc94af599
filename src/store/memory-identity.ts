import { systemClock, uuidGenerator, type Clock, type IdGenerator } from '../core/clock';
import type { AuditLog } from './audit-types';
import { compareText, foldAscii } from './filter-attributes';
import { compileMatcher, compileSorter, type FilterRecord } from './filter-eval';
import {
  ConflictError,
  InvalidMemberError,
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
  type MemberOp,
  type MemberRef,
  type Page,
  type UpdateOptions,
  type UserData,
  type UserRecord,
  type WriteContext,
  type WriteOptions,
} from './types';
import { attributeDiff, jsonClone, MembershipDelta, scimAudit, writeKind } from './write-audit';

interface Stored<T> {
  id: string;
  data: T;
  meta: { created: string; lastModified: string; version: number };
  seq: number;
}

/**
 * The in-memory identity store, observably identical to SqlIdentityStore (same contract suite).
 * Everything is validated before anything is mutated, so a failed write leaves no trace. Data is cloned
 * through JSON on the way in and out. Each write validates, mutates and takes its result before its only await
 * (the audit record), so concurrent calls never interleave inside one.
 */
export class MemoryIdentityStore implements IdentityStore {
  private readonly users = new Map<string, Stored<UserData>>();
  private readonly groups = new Map<string, Stored<GroupData>>();
  private readonly members = new Map<string, Set<string>>();
  /** NOCASE keys (ASCII folding, as SQLite) for uniqueness. */
  private readonly userNames = new Map<string, string>();
  private readonly groupNames = new Map<string, string>();
  private readonly changes: Change[] = [];
  private seq = 0;

  constructor(
    private readonly audit: AuditLog,
    private readonly clock: Clock = systemClock,
    private readonly newId: IdGenerator = uuidGenerator,
  ) {}

  private now(): string {
    return this.clock.now().toISOString();
  }

  private journal(at: string, resourceType: 'User' | 'Group', resourceId: string, op: Change['op']): number {
    this.changes.push({ seq: ++this.seq, at, resourceType, resourceId, op });
    return this.seq;
  }

  private checkVersion(actual: number, opts?: WriteOptions): void {
    if (opts?.ifMatch !== undefined && opts.ifMatch !== actual) throw new PreconditionFailedError(opts.ifMatch, actual);
  }

  private user(id: string): Stored<UserData> {
    const u = this.users.get(id);
    if (!u) throw new NotFoundError('User', id);
    return u;
  }

  private group(id: string): Stored<GroupData> {
    const g = this.groups.get(id);
    if (!g) throw new NotFoundError('Group', id);
    return g;
  }

  private checkName(index: Map<string, string>, attribute: string, value: string, self?: string): void {
    const hit = index.get(foldAscii(value));
    if (hit !== undefined && hit !== self) throw new ConflictError(attribute, value);
  }

  private out<T>(s: Stored<T>): { id: string; data: T; meta: Stored<T>['meta'] } {
    return { id: s.id, data: jsonClone(s.data), meta: { ...s.meta } };
  }

  async createUser(data: UserData, ctx: WriteContext): Promise<UserRecord> {
    const doc = jsonClone(data);
    this.checkName(this.userNames, 'userName', doc.userName);
    const id = this.newId();
    const at = this.now();
    const seq = this.journal(at, 'User', id, 'create');
    this.users.set(id, { id, data: doc, meta: { created: at, lastModified: at, version: 1 }, seq });
    this.userNames.set(foldAscii(doc.userName), id);
    const rec = this.out(this.users.get(id)!);
    await this.audit.record(scimAudit(at, ctx, 'User', id, doc.userName, 'created', attributeDiff({}, doc)!));
    return rec;
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const u = this.users.get(id);
    return u && this.out(u);
  }

  async listUsers(q: ListQuery): Promise<Page<UserRecord>> {
    return this.list('User', [...this.users.values()], q, (s) => this.out(s));
  }

  async updateUser(id: string, fn: (current: UserRecord) => UserData, ctx: WriteContext, opts?: UpdateOptions): Promise<UserRecord> {
    const u = this.user(id);
    this.checkVersion(u.meta.version, opts);
    const next = jsonClone(fn(this.out(u)));
    const diff = attributeDiff(u.data, next);
    if (!diff) return this.out(u);
    this.checkName(this.userNames, 'userName', next.userName, id);
    const at = this.now();
    const { op, action } = writeKind(opts);
    this.journal(at, 'User', id, op);
    this.userNames.delete(foldAscii(u.data.userName));
    this.userNames.set(foldAscii(next.userName), id);
    u.data = next;
    u.meta = { ...u.meta, lastModified: at, version: u.meta.version + 1 };
    const rec = this.out(u);
    await this.audit.record(scimAudit(at, ctx, 'User', id, next.userName, action, diff));
    return rec;
  }

  async deleteUser(id: string, ctx: WriteContext, opts?: WriteOptions): Promise<void> {
    const u = this.user(id);
    this.checkVersion(u.meta.version, opts);
    const left = this.groupIdsOf(id);
    const at = this.now();
    this.users.delete(id);
    this.userNames.delete(foldAscii(u.data.userName));
    this.journal(at, 'User', id, 'delete');
    for (const g of left) {
      this.members.get(g)!.delete(id);
      const grp = this.groups.get(g)!;
      grp.meta = { ...grp.meta, lastModified: at, version: grp.meta.version + 1 };
      this.journal(at, 'Group', g, 'patch');
    }
    const detail: Record<string, unknown> = { ...attributeDiff(u.data, {})! };
    if (left.length) detail.leftGroups = left.slice(0, 100);
    await this.audit.record(scimAudit(at, ctx, 'User', id, u.data.userName, 'deleted', detail));
  }

  private checkMembers(ids: readonly string[]): void {
    for (const m of ids) {
      if (!this.users.has(m)) throw new InvalidMemberError(m, this.groups.has(m) ? 'group' : 'unknown');
    }
  }

  /** Validates every op first (users cannot change meanwhile), then applies them: nothing to roll back. */
  private applyMemberOps(set: Set<string>, ops: readonly MemberOp[], delta: MembershipDelta): void {
    for (const op of ops) if (op.op === 'add' || op.op === 'replace') this.checkMembers(op.ids);
    for (const op of ops) {
      switch (op.op) {
        case 'add':
          for (const m of op.ids) {
            if (set.has(m)) continue;
            set.add(m);
            delta.added.push(m);
          }
          break;
        case 'remove':
          for (const m of op.ids) {
            if (set.delete(m)) {
              delta.removed.push(m);
              delta.removedCount++;
            }
          }
          break;
        case 'removeAll':
          if (set.size) {
            delta.removedAll = true;
            delta.removedCount += set.size;
            set.clear();
          }
          break;
        case 'replace': {
          const keep = new Set(op.ids);
          const gone = [...set].filter((m) => !keep.has(m)).sort();
          for (const m of gone) set.delete(m);
          delta.removed.push(...gone);
          delta.removedCount += gone.length;
          for (const m of op.ids) {
            if (set.has(m)) continue;
            set.add(m);
            delta.added.push(m);
          }
          break;
        }
      }
    }
  }

  async createGroup(data: GroupData, memberIds: string[], ctx: WriteContext): Promise<GroupRecord> {
    const doc = jsonClone(data);
    this.checkName(this.groupNames, 'displayName', doc.displayName);
    this.checkMembers(memberIds);
    const id = this.newId();
    const at = this.now();
    const seq = this.journal(at, 'Group', id, 'create');
    const set = new Set<string>();
    const delta = new MembershipDelta();
    this.applyMemberOps(set, [{ op: 'add', ids: memberIds }], delta);
    this.groups.set(id, { id, data: doc, meta: { created: at, lastModified: at, version: 1 }, seq });
    this.members.set(id, set);
    this.groupNames.set(foldAscii(doc.displayName), id);
    const rec = this.out(this.groups.get(id)!);
    await this.audit.record(scimAudit(at, ctx, 'Group', id, doc.displayName, 'created', { ...attributeDiff({}, doc), ...delta.detail() }));
    return rec;
  }

  async getGroup(id: string, opts: { members: boolean }): Promise<GroupRecord | undefined> {
    const g = this.groups.get(id);
    if (!g) return undefined;
    const rec: GroupRecord = this.out(g);
    if (opts.members) rec.members = this.membersOf(id);
    return rec;
  }

  /** Ordered by userName, NOCASE as the SQLite store does. */
  private membersOf(id: string): MemberRef[] {
    return [...this.members.get(id)!]
      .map((m) => ({ value: m, display: this.users.get(m)!.data.userName }))
      .sort((a, b) => compareText(a.display, b.display, true));
  }

  async listGroups(q: ListQuery, opts: { members: boolean }): Promise<Page<GroupRecord>> {
    return this.list('Group', [...this.groups.values()], q, (s) => {
      const rec: GroupRecord = this.out(s);
      if (opts.members) rec.members = this.membersOf(s.id);
      return rec;
    });
  }

  async updateGroup(id: string, fn: (current: GroupRecord) => GroupChange, ctx: WriteContext, opts?: UpdateOptions): Promise<GroupRecord> {
    const g = this.group(id);
    this.checkVersion(g.meta.version, opts);
    const change = fn(this.out(g));
    const next = change.data ? jsonClone(change.data) : g.data;
    const diff = attributeDiff(g.data, next);
    if (diff) this.checkName(this.groupNames, 'displayName', next.displayName, id);
    const delta = new MembershipDelta();
    this.applyMemberOps(this.members.get(id)!, change.memberOps ?? [], delta);
    if (!diff && !delta.changed) return this.out(g);
    const at = this.now();
    const { op, action } = writeKind(opts);
    this.journal(at, 'Group', id, op);
    this.groupNames.delete(foldAscii(g.data.displayName));
    this.groupNames.set(foldAscii(next.displayName), id);
    g.data = next;
    g.meta = { ...g.meta, lastModified: at, version: g.meta.version + 1 };
    const rec = this.out(g);
    await this.audit.record(scimAudit(at, ctx, 'Group', id, next.displayName, action, { ...diff, ...delta.detail() }));
    return rec;
  }

  async deleteGroup(id: string, ctx: WriteContext, opts?: WriteOptions): Promise<void> {
    const g = this.group(id);
    this.checkVersion(g.meta.version, opts);
    const at = this.now();
    this.groups.delete(id);
    this.members.delete(id);
    this.groupNames.delete(foldAscii(g.data.displayName));
    this.journal(at, 'Group', id, 'delete');
    await this.audit.record(scimAudit(at, ctx, 'Group', id, g.data.displayName, 'deleted', attributeDiff(g.data, {})!));
  }

  async groupsOfUser(userId: string): Promise<GroupOfUser[]> {
    return this.groupIdsOf(userId).map((id) => ({ id, displayName: this.groups.get(id)!.data.displayName }));
  }

  /** In group creation order. */
  private groupIdsOf(userId: string): string[] {
    return [...this.groups.keys()].filter((g) => this.members.get(g)!.has(userId));
  }

  async latestSeq(): Promise<number> {
    return this.seq;
  }

  async changesSince(seq: number, limit = 1000): Promise<Change[]> {
    return this.changes.filter((c) => c.seq > seq).slice(0, limit).map((c) => ({ ...c }));
  }

  async snapshot(): Promise<IdentitySnapshot> {
    return {
      seq: this.seq,
      users: [...this.users.values()].map((u) => this.out(u)),
      groups: [...this.groups.values()].map((g) => ({
        id: g.id,
        displayName: g.data.displayName,
        ...(typeof g.data.externalId === 'string' ? { externalId: g.data.externalId } : {}),
        memberIds: [...this.members.get(g.id)!].sort(),
      })),
    };
  }

  async close(): Promise<void> {}

  private list<T, R>(rt: 'User' | 'Group', all: Stored<T>[], q: ListQuery, map: (s: Stored<T>) => R): Page<R> {
    const match = q.filter ? compileMatcher(rt, q.filter) : () => true;
    const sorter = compileSorter(rt, q.sortBy, q.sortOrder);
    const rec = (s: Stored<T>): FilterRecord => ({
      id: s.id,
      data: s.data as Record<string, unknown>,
      meta: s.meta,
      ...(rt === 'Group' ? { memberIds: this.members.get(s.id)! } : {}),
    });
    const hits = all.map((s) => ({ s, record: rec(s), seq: s.seq })).filter((x) => match(x.record));
    if (q.count <= 0) return { totalResults: hits.length, resources: [] };
    hits.sort(sorter);
    const offset = Math.max(1, q.startIndex) - 1;
    return { totalResults: hits.length, resources: hits.slice(offset, offset + q.count).map((x) => map(x.s)) };
  }
}
