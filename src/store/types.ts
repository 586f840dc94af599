import type { Filter } from 'scim2-parse-filter';

/**
 * The identity store seam (STYLE habit 1): everything the SCIM layer and the reconciler know of storage.
 * Implementations: store/sqlite-identity.ts (real) and store/memory-identity.ts (in-memory), both run through
 * test/contract/identity-store.contract.ts. Asynchronous, so that a network database (PostgreSQL) can sit behind it;
 * read-modify-write callbacks stay synchronous and pure, and run inside the store's transaction.
 */

/**
 * Canonical SCIM user attributes (RFC 7643 §4.1): camelCase keys as in the schema, extension attributes nested
 * under their schema URN (e.g. data['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'].department).
 * `id`, `meta` and `schemas` are not part of it: the store owns id and meta, the SCIM layer derives schemas.
 * Unset attributes are absent (never null).
 */
export interface UserData {
  userName: string;
  active: boolean;
  externalId?: string;
  displayName?: string;
  [attribute: string]: unknown;
}

/** Canonical SCIM group attributes (RFC 7643 §4.2) without members, which live one row per membership. */
export interface GroupData {
  displayName: string;
  externalId?: string;
  [attribute: string]: unknown;
}

/** RFC 7643 §3.1; version is a counter that becomes the weak ETag W/"<version>" (RFC 7644 §3.14). */
export interface ResourceMeta {
  created: string;
  lastModified: string;
  version: number;
}

export interface UserRecord {
  id: string;
  data: UserData;
  meta: ResourceMeta;
}

/** A group member (users only: Airflow has no nested groups). display is the member's userName. */
export interface MemberRef {
  value: string;
  display?: string;
}

export interface GroupRecord {
  id: string;
  data: GroupData;
  meta: ResourceMeta;
  /** Present only when the caller asked for members. */
  members?: MemberRef[];
}

/** Membership edits, applied in order inside one transaction; each costs O(ids), not O(group size). */
export type MemberOp =
  | { op: 'add'; ids: string[] }
  | { op: 'remove'; ids: string[] }
  | { op: 'removeAll' }
  | { op: 'replace'; ids: string[] };

export interface GroupChange {
  /** New attributes; absent means unchanged. */
  data?: GroupData;
  memberOps?: MemberOp[];
}

export type SortOrder = 'ascending' | 'descending';

/** A list request after the SCIM layer has parsed and clamped it (RFC 7644 §3.4.2). */
export interface ListQuery {
  /** Parsed filter; attribute paths are as the client wrote them (resolve case-insensitively). */
  filter?: Filter;
  /** 1-based. */
  startIndex: number;
  /** 0 means "count only". */
  count: number;
  /** Attribute path, e.g. "userName", "name.familyName", "meta.lastModified". Default order: creation (stable). */
  sortBy?: string;
  sortOrder?: SortOrder;
}

export interface Page<T> {
  totalResults: number;
  resources: T[];
}

/** Who is writing, for the audit trail. */
export interface WriteContext {
  /** Token name, "cli", "reconciler", ... */
  actor: string;
  clientIp?: string;
  requestId?: string;
  method?: string;
  path?: string;
}

export interface WriteOptions {
  /** RFC 7644 §3.14 If-Match: the version the client last saw; a mismatch throws PreconditionFailedError. */
  ifMatch?: number;
}

/** An update is a replace (PUT, RFC 7644 §3.5.1) or a patch (PATCH, §3.5.2): journalled and audited as such. */
export interface UpdateOptions extends WriteOptions {
  /** Default 'replace'. */
  kind?: 'replace' | 'patch';
}

/** One entry of the change journal; seq increases strictly. The reconciler wakes on it. */
export interface Change {
  seq: number;
  at: string;
  resourceType: 'User' | 'Group';
  resourceId: string;
  op: 'create' | 'replace' | 'patch' | 'delete';
}

/** A group a user is in (RFC 7643 §4.1.2 "groups": value and display). */
export interface GroupOfUser {
  id: string;
  displayName: string;
}

export interface SnapshotGroup {
  id: string;
  displayName: string;
  externalId?: string;
  memberIds: string[];
}

/** A consistent read of everything, for the reconciler. */
export interface IdentitySnapshot {
  seq: number;
  users: UserRecord[];
  groups: SnapshotGroup[];
}

export interface IdentityStore {
  createUser(data: UserData, ctx: WriteContext): Promise<UserRecord>;
  getUser(id: string): Promise<UserRecord | undefined>;
  listUsers(q: ListQuery): Promise<Page<UserRecord>>;
  /** Atomic read-modify-write (PUT, PATCH): fn sees the committed record and returns the new data. */
  updateUser(id: string, fn: (current: UserRecord) => UserData, ctx: WriteContext, opts?: UpdateOptions): Promise<UserRecord>;
  /** Removes the user and its memberships. */
  deleteUser(id: string, ctx: WriteContext, opts?: WriteOptions): Promise<void>;

  createGroup(data: GroupData, memberIds: string[], ctx: WriteContext): Promise<GroupRecord>;
  getGroup(id: string, opts: { members: boolean }): Promise<GroupRecord | undefined>;
  listGroups(q: ListQuery, opts: { members: boolean }): Promise<Page<GroupRecord>>;
  /** Atomic read-modify-write; fn sees the record without members. Returns the record without members. */
  updateGroup(id: string, fn: (current: GroupRecord) => GroupChange, ctx: WriteContext, opts?: UpdateOptions): Promise<GroupRecord>;
  deleteGroup(id: string, ctx: WriteContext, opts?: WriteOptions): Promise<void>;

  /** The groups a user belongs to, in group creation order, with their names (one read for a User's "groups"). */
  groupsOfUser(userId: string): Promise<GroupOfUser[]>;

  latestSeq(): Promise<number>;
  changesSince(seq: number, limit?: number): Promise<Change[]>;
  snapshot(): Promise<IdentitySnapshot>;
  close(): Promise<void>;
}

/** Named store errors (dex style), mapped to HTTP once in scim/errors.ts. */
export class NotFoundError extends Error {
  constructor(readonly resourceType: 'User' | 'Group', readonly id: string) {
    super(`${resourceType} ${id} not found`);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends Error {
  constructor(readonly attribute: string, readonly value: string) {
    super(`${attribute} "${value}" is already taken`);
    this.name = 'ConflictError';
  }
}

export class PreconditionFailedError extends Error {
  constructor(readonly expected: number, readonly actual: number) {
    super(`version mismatch: If-Match W/"${expected}" but the resource is at W/"${actual}"`);
    this.name = 'PreconditionFailedError';
  }
}

/** A member that is not a user of this store: a group (nesting) or an unknown id. */
export class InvalidMemberError extends Error {
  constructor(readonly memberId: string, readonly reason: 'group' | 'unknown') {
    super(
      reason === 'group'
        ? `member ${memberId} is a group; nested groups are not supported because Airflow has no group nesting`
        : `member ${memberId} is not a known user`,
    );
    this.name = 'InvalidMemberError';
  }
}

/** A filter or sort the store cannot evaluate (unknown attribute, bad operator for the type). */
export class InvalidQueryError extends Error {
  constructor(message: string, readonly kind: 'filter' | 'sort' = 'filter') {
    super(message);
    this.name = 'InvalidQueryError';
  }
}
