/**
 * The reconciler's state behind the store seam (STYLE habit 1): the store keeps it, the reconciler gives it meaning.
 * Runs are kept whole; the store reads only the fields below.
 */

/** Which process ran a reconcile: the service's loop or a one-off CLI command. */
export type RunOrigin = 'service' | 'cli';

/** How a reconcile run ends (the reconciler's RunReport.result); 'planned' is a dry run's. */
export const RUN_RESULTS = ['applied', 'nothing-to-do', 'blocked', 'failed', 'partial', 'planned'] as const;
export type RunResult = (typeof RUN_RESULTS)[number];

/** Runs that did not apply everything they were allowed to: status reports them, lastRun({ ok: true }) skips them. */
export const FAILED_RESULTS = ['failed', 'partial'] as const satisfies readonly RunResult[];
export const isFailedResult = (r: RunResult): boolean => (FAILED_RESULTS as readonly RunResult[]).includes(r);

/** What the store reads of a run record (the reconciler's RunReport has these and more). */
export interface StoredRun {
  id?: number;
  trigger: string;
  /** Absent in runs saved before it existed: then a 'cli' trigger means the CLI. */
  origin?: RunOrigin;
  dryRun: boolean;
  started: string;
  finished: string;
  result: RunResult;
  seq: number;
  error?: string;
}

export const runOrigin = (r: Pick<StoredRun, 'origin' | 'trigger'>): RunOrigin => r.origin ?? (r.trigger === 'cli' ? 'cli' : 'service');

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
 * keyed JSON values (each read and written only through its typed accessor in reconcile/state-keys.ts).
 * Implementations: sqlite-reconcile-state.ts and memory-reconcile-state.ts, both run through
 * test/reconcile/state.contract.ts. The run record is the reconciler's (RunReport); the store keeps it whole.
 */
export interface ReconcileState<R extends StoredRun = StoredRun> {
  owned(): Promise<OwnershipRecord[]>;
  /**
   * Upsert; usernames are compared case-insensitively. A re-own keeps `how` and `since`, updates scimUserId, and
   * externalId when one is given.
   */
  own(username: string, how: 'created' | 'adopted', scimUserId: string | null, at: Date, externalId?: string): Promise<void>;
  disown(username: string): Promise<void>;
  recordDeprovision(username: string, kind: DeprovisionKind, at: Date): Promise<void>;
  /** Events at or after `at`. */
  countDeprovisionsSince(at: Date): Promise<number>;
  /** Usernames (lower-cased, each once) with an event at or after `at`: the people the safety window counts. */
  deprovisionedSince(at: Date): Promise<string[]>;
  /** Returns the run id. */
  saveRun(report: R): Promise<number>;
  /** The latest run; dry runs only when asked; only runs of one origin when given; skipping failed/partial ones when ok. */
  lastRun(opts?: LastRunQuery): Promise<R | undefined>;
  getKv(key: string): Promise<string | undefined>;
  /** null deletes the key. */
  setKv(key: string, value: string | null): Promise<void>;
}

export interface LastRunQuery {
  includeDryRun?: boolean;
  origin?: RunOrigin;
  /** Only runs that did not end failed or partial. */
  ok?: boolean;
}

