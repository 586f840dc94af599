import { jsonEquals } from '../core/json';
import { redact } from '../core/redact';
import type { AuditEntry } from './audit-types';
import type { Change, UpdateOptions, WriteContext } from './types';

/** Audit and journal helpers shared by both identity stores, so their trails are identical. */

export const MAX_AUDIT_IDS = 100;

/** JSON round trip: what SQLite stores, and a deep clone (drops undefined, as the SQLite doc does). */
export const jsonClone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/**
 * An update of kind 'patch' is journalled as 'patch' and audited as 'patched'; any other (the default) as a replace.
 * The caller says which (UpdateOptions.kind); the HTTP method in the WriteContext is only copied into the audit.
 */
export function writeKind(opts?: UpdateOptions): { op: Change['op']; action: string } {
  return opts?.kind === 'patch' ? { op: 'patch', action: 'patched' } : { op: 'replace', action: 'replaced' };
}

/** { before, after } of only the top-level attributes that changed; undefined when nothing did. */
export function attributeDiff(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): { before: Record<string, unknown>; after: Record<string, unknown> } | undefined {
  const b: Record<string, unknown> = {};
  const a: Record<string, unknown> = {};
  let changed = false;
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (jsonEquals(before[k], after[k])) continue;
    changed = true;
    if (k in before) b[k] = before[k];
    if (k in after) a[k] = after[k];
  }
  return changed ? { before: redact(b), after: redact(a) } : undefined;
}

/** { added, addedCount, removed, removedCount }, ids capped at MAX_AUDIT_IDS; removed 'all' for removeAll. */
export function membershipDetail(added: string[], removed: string[] | 'all', removedCount: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (added.length) Object.assign(out, { added: added.slice(0, MAX_AUDIT_IDS), addedCount: added.length });
  if (removedCount > 0) {
    out.removed = removed === 'all' ? 'all' : removed.slice(0, MAX_AUDIT_IDS);
    out.removedCount = removedCount;
  }
  return out;
}

export function scimAudit(
  at: string,
  ctx: WriteContext,
  resourceType: 'User' | 'Group',
  resourceId: string,
  subject: string,
  action: string,
  detail: Record<string, unknown>,
): AuditEntry {
  const e: AuditEntry = { at, source: 'scim', actor: ctx.actor, resourceType, resourceId, subject, action, outcome: 'success', detail };
  if (ctx.clientIp !== undefined) e.clientIp = ctx.clientIp;
  if (ctx.requestId !== undefined) e.requestId = ctx.requestId;
  if (ctx.method !== undefined) e.method = ctx.method;
  if (ctx.path !== undefined) e.path = ctx.path;
  return e;
}

/** Tracks the net effect of membership ops, for the audit detail and the "did anything change" test. */
export class MembershipDelta {
  readonly added: string[] = [];
  readonly removed: string[] = [];
  removedAll = false;
  removedCount = 0;
  get changed(): boolean {
    return this.added.length > 0 || this.removedCount > 0;
  }
  detail(): Record<string, unknown> {
    return membershipDetail(this.added, this.removedAll ? 'all' : this.removed, this.removedCount);
  }
}
