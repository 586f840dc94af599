import type { RunOrigin, RunReport } from './types';

/** An Airflow account the reconciler manages (STYLE habit 7): it created it, or adopted an existing one. */
export interface OwnershipRecord {
  username: string;
  how: 'created' | 'adopted';
  scimUserId: string | null;
  /** The SCIM externalId of the bound identity, when it had one: the same person re-created keeps the account. */
  externalId?: string;
  since: string;
}

export type DeprovisionKind = 'deprovision' | 'admin-removal' | 'role-removal';

/**
 * The reconciler's own memory: ownership, the deprovision events the safety window counts, run history and a few
 * keyed values ('blocked': the held verdict as JSON; 'lastSuccess': {at, seq} of the last clean run).
 * Implementations: sqlite-state.ts and memory-state.ts, both run through test/reconcile/state.contract.ts.
 */
export interface ReconcileState {
  owned(): OwnershipRecord[];
  /**
   * Upsert; usernames are compared case-insensitively. A re-own keeps `how` and `since`, updates scimUserId, and
   * externalId when one is given.
   */
  own(username: string, how: 'created' | 'adopted', scimUserId: string | null, at: Date, externalId?: string): void;
  disown(username: string): void;
  recordDeprovision(username: string, kind: DeprovisionKind, at: Date): void;
  /** Events at or after `at`. */
  countDeprovisionsSince(at: Date): number;
  /** Usernames (lower-cased, each once) with an event at or after `at`: the people the safety window counts. */
  deprovisionedSince(at: Date): string[];
  /** Returns the run id. */
  saveRun(report: RunReport): number;
  /** The latest run; dry runs only when asked; only runs of one origin when given; skipping failed/partial ones when ok. */
  lastRun(opts?: LastRunQuery): RunReport | undefined;
  getKv(key: string): string | undefined;
  /** null deletes the key. */
  setKv(key: string, value: string | null): void;
}

export interface LastRunQuery {
  includeDryRun?: boolean;
  origin?: RunOrigin;
  /** Only runs that did not end failed or partial. */
  ok?: boolean;
}

/** Lower-cased username → record, the shape plan() takes. */
export function ownershipMap(state: Pick<ReconcileState, 'owned'>): Map<string, OwnershipRecord> {
  return new Map(state.owned().map((r) => [r.username.toLowerCase(), r]));
}
