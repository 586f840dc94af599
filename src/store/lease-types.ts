/**
 * Leases: one writer per database across processes. 'service' is held by `serve` for its whole life (SQLite only);
 * 'leader' by the one service replica that runs the reconcile loop (server/leader.ts); 'reconcile' by whichever
 * process (the leader's loop or a CLI run) is reconciling now. A lease names its holder (pid, host) and expires
 * unless renewed, so a crashed holder cannot block anyone for longer than the ttl.
 * Implementations: sqlite-lease.ts and memory-lease.ts, both run through test/store/lease.contract.ts.
 */
export type LeaseName = 'service' | 'reconcile' | 'leader';

export interface LeaseOwner {
  /** Unique per lease-taking object (a process may hold several leases, each under its own id). */
  id: string;
  pid: number;
  host: string;
  /** What the holder is doing, for messages: "serve", "reconcile (cli)". */
  purpose: string;
}

export interface LeaseRecord extends LeaseOwner {
  name: LeaseName;
  acquiredAt: string;
  expiresAt: string;
}

export type AcquireResult = { ok: true; lease: LeaseRecord } | { ok: false; holder: LeaseRecord };

export interface LeaseStore {
  /**
   * Takes the lease when it is free, expired, already ours, or held by a process known to be dead (isDead);
   * otherwise returns the live holder. Atomic across processes.
   */
  tryAcquire(name: LeaseName, owner: LeaseOwner, ttlMs: number, now: Date, isDead?: (holder: LeaseRecord) => boolean): Promise<AcquireResult>;
  /** Extends our lease; false when it is no longer ours (it expired and someone else took it). */
  renew(name: LeaseName, ownerId: string, ttlMs: number, now: Date): Promise<boolean>;
  /** Drops the lease if it is ours; a no-op otherwise. */
  release(name: LeaseName, ownerId: string): Promise<void>;
  /** The current, unexpired holder, if any. */
  holder(name: LeaseName, now: Date): Promise<LeaseRecord | undefined>;
}

/** "pid 123 on host a (serve, since …, expires …)": how messages name a holder. */
export function describeHolder(h: LeaseRecord): string {
  return `pid ${h.pid} on host ${h.host} (${h.purpose}, since ${h.acquiredAt}, lease expires ${h.expiresAt} unless renewed)`;
}
