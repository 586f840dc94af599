import { randomUUID } from 'node:crypto';
import type { Db } from '../../src/store/database';
import type { UserData } from '../../src/store/types';

/** The synthetic directory: user<i> with the attributes an IdP typically sends (Okta/Entra-like). */
export function userData(i: number, prefix = 'user'): UserData {
  const userName = `${prefix}${i}`;
  return {
    userName,
    active: true,
    externalId: `ext-${userName}`,
    displayName: `User ${prefix} ${i}`,
    name: { givenName: 'User', familyName: `${prefix}-${i}` },
    emails: [{ value: `${userName}@example.com`, type: 'work', primary: true }],
  };
}

export interface BulkGroup {
  displayName: string;
  /** Indexes into the loaded users (prefix "user"). */
  members: number[];
}

export interface BulkLoad {
  /** user0 .. user<users-1>. */
  users: number;
  /** spare0 .. spare<spares-1>: users in no group (targets of the member-add PATCH runs). */
  spares: number;
  groups: BulkGroup[];
}

export interface Loaded {
  userIds: string[];
  spareIds: string[];
  groupIds: string[];
}

/**
 * Bulk load by direct SQL, writing the rows the store writes (src/store/migrations.ts v1; sqlite-identity.ts): a
 * journal row per resource whose seq becomes the row's seq, users with doc = canonical UserData JSON, user_emails,
 * groups, group_members; in one transaction with synchronous off: seconds, against minutes through the API. Only
 * the audit rows are left out (nothing reads them on the measured paths). bench/scim.ts compares a bulk row with
 * one the store wrote.
 */
export function bulkLoad(db: Db, spec: BulkLoad, at = new Date().toISOString()): Loaded {
  db.pragma('synchronous = OFF');
  const journal = db.prepare("INSERT INTO changes (at, resource_type, resource_id, op) VALUES (?, ?, ?, 'create')");
  const seqOf = (type: 'User' | 'Group', id: string) => Number(journal.run(at, type, id).lastInsertRowid);
  const insUser = db.prepare(
    `INSERT INTO users (id, user_name, external_id, display_name, active, doc, created, last_modified, version, seq)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
  );
  const insEmail = db.prepare('INSERT INTO user_emails (user_id, value, type, is_primary) VALUES (?, ?, ?, ?)');
  const insGroup = db.prepare(
    `INSERT INTO groups (id, display_name, external_id, doc, created, last_modified, version, seq)
     VALUES (?, ?, ?, ?, ?, ?, 1, ?)`,
  );
  const insMember = db.prepare('INSERT INTO group_members (group_id, user_id) VALUES (?, ?)');

  const out: Loaded = { userIds: [], spareIds: [], groupIds: [] };
  const addUser = (data: UserData): string => {
    const id = randomUUID();
    insUser.run(id, data.userName, data.externalId ?? null, data.displayName ?? null, data.active ? 1 : 0, JSON.stringify(data), at, at, seqOf('User', id));
    for (const e of (data.emails as Array<{ value: string; type?: string; primary?: boolean }>) ?? []) {
      insEmail.run(id, e.value, e.type ?? null, e.primary ? 1 : 0);
    }
    return id;
  };
  db.transaction(() => {
    for (let i = 0; i < spec.users; i++) out.userIds.push(addUser(userData(i)));
    for (let i = 0; i < spec.spares; i++) out.spareIds.push(addUser(userData(i, 'spare')));
    for (const g of spec.groups) {
      const id = randomUUID();
      insGroup.run(id, g.displayName, null, JSON.stringify({ displayName: g.displayName }), at, at, seqOf('Group', id));
      for (const m of g.members) insMember.run(id, out.userIds[m]);
      out.groupIds.push(id);
    }
  })();
  db.pragma('synchronous = FULL');
  return out;
}

/** Runs fn (writes through the store) with synchronous off, so a set-up of thousands of commits takes seconds. */
export async function unsynced<T>(db: Db, fn: () => Promise<T>): Promise<T> {
  db.pragma('synchronous = OFF');
  try {
    return await fn();
  } finally {
    db.pragma('synchronous = FULL');
  }
}

/** 0 .. n-1. */
export const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);
