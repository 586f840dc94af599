import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Clock } from '../core/clock';
import { describeHolder, type LeaseName, type LeaseOwner, type LeaseRecord, type LeaseStore } from '../store/lease-types';

/** Default lease lifetime and renewal period: a crashed holder blocks others for at most DEFAULT_TTL_MS. */
export const DEFAULT_TTL_MS = 30_000;

/**
 * The per-run 'reconcile' lease, on every backend and for the service and the CLI alike: as short as the leader
 * lease (leader.ts), so a leader killed in the middle of a run holds up its successor's first run no longer than
 * its leader lease holds up the election (failover within ttl + one retry, under 15 s).
 */
export const RUN_TTL_MS = 10_000;

/** Lease ids this process holds now; a same-host, same-pid holder not in here is a previous incarnation. */
const heldHere = new Set<string>();

/** Registers (or forgets) a lease id this process holds, so holderIsDead never takes it for a dead incarnation. */
export function markHeldHere(id: string, held: boolean): void {
  if (held) heldHere.add(id);
  else heldHere.delete(id);
}

/** The holder's messages name the database, so an operator knows which file is contended. */
export class LeaseHeldError extends Error {
  constructor(
    readonly holder: LeaseRecord,
    readonly database: string,
    what: string,
  ) {
    super(`${what}: database ${database} is in use by ${describeHolder(holder)}`);
    this.name = 'LeaseHeldError';
  }
}

/**
 * True when the holder certainly no longer runs: it is on this host and its pid is gone, or its pid is ours but the
 * lease is not (a restarted container where we got the same pid, typically 1). Other hosts: only the ttl tells.
 */
export function holderIsDead(h: LeaseRecord): boolean {
  if (h.host !== os.hostname()) return false;
  if (h.pid === process.pid) return !heldHere.has(h.id);
  try {
    process.kill(h.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export interface LeaseOptions {
  store: LeaseStore;
  clock: Clock;
  /** Named in messages. */
  database: string;
  ttlMs?: number;
  /** Called when the lease was lost (it expired while we were stalled and another process took it). */
  onLost?: (holder: LeaseRecord | undefined) => void;
  /** Called when a timed renewal failed (the database did not answer); the next one tries again. */
  onRenewError?: (err: unknown) => void;
}

/**
 * A lease held by this process, renewed every ttl/3 until released. `signal` aborts once the lease can no longer be
 * counted on: another process took it, or renewals have failed (or hung) until the last confirmed one is ttl/2
 * old, before the lease could expire. Work done under the lease (a reconcile run's apply step) checks it before
 * each step, so a stalled or cut-off holder stops instead of acting beside the process that takes over.
 */
export class HeldLease {
  private timer: NodeJS.Timeout | null = null;
  /** The timed renewal in flight; the timer skips a tick rather than start a second one. Never rejects. */
  private renewing: Promise<unknown> | null = null;
  private released = false;
  private readonly abort = new AbortController();
  /** When the lease was last confirmed ours (the start of the acquire or renewal that succeeded). */
  private confirmedAt: number;

  private constructor(
    readonly name: LeaseName,
    readonly owner: LeaseOwner,
    private readonly opts: LeaseOptions,
    confirmedAt: Date,
  ) {
    this.confirmedAt = confirmedAt.getTime();
  }

  /** Aborted (with the reason as an Error) once the lease may be someone else's; see the class comment. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  private get ttl(): number {
    return this.opts.ttlMs ?? DEFAULT_TTL_MS;
  }

  private doubt(reason: string): void {
    if (!this.abort.signal.aborted) this.abort.abort(new Error(`${reason}; stopping the work done under the ${this.name} lease`));
  }

  /** Renewals have not confirmed the lease for ttl/2: it may expire before the next one could. */
  private checkDeadline(): void {
    if (this.opts.clock.now().getTime() - this.confirmedAt >= this.ttl / 2) this.doubt(`the ${this.name} lease could not be renewed for ${Math.round(this.ttl / 2000)} s`);
  }

  /** Takes the lease now or throws LeaseHeldError naming the live holder and the database. */
  static async acquire(name: LeaseName, purpose: string, opts: LeaseOptions): Promise<HeldLease> {
    const owner: LeaseOwner = { id: randomUUID(), pid: process.pid, host: os.hostname(), purpose };
    const ttl = opts.ttlMs ?? DEFAULT_TTL_MS;
    const now = opts.clock.now();
    const r = await opts.store.tryAcquire(name, owner, ttl, now, holderIsDead);
    if (!r.ok) throw new LeaseHeldError(r.holder, opts.database, name === 'service' ? 'another airflow-scim serve is running' : 'a reconcile run is in progress');
    heldHere.add(owner.id);
    const lease = new HeldLease(name, owner, opts, now);
    lease.timer = setInterval(() => lease.renewOnTimer(), Math.max(10, Math.floor(ttl / 3)));
    lease.timer.unref();
    return lease;
  }

  /**
   * Waits for the lease: retries every pollMs until waitMs has passed (Infinity: forever), calling onWait once with
   * the holder. Throws the last LeaseHeldError when the wait runs out.
   */
  static async waitFor(
    name: LeaseName,
    purpose: string,
    opts: LeaseOptions & { waitMs: number; pollMs?: number; onWait?: (holder: LeaseRecord) => void; signal?: AbortSignal },
  ): Promise<HeldLease> {
    const until = opts.clock.now().getTime() + opts.waitMs;
    let told = false;
    for (;;) {
      if (opts.signal?.aborted) throw new Error(`stopped while waiting for the ${name} lease`);
      try {
        return await HeldLease.acquire(name, purpose, opts);
      } catch (e) {
        if (!(e instanceof LeaseHeldError) || opts.clock.now().getTime() >= until) throw e;
        if (!told) opts.onWait?.(e.holder);
        told = true;
      }
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 200));
    }
  }

  /**
   * For `serve`: a live holder renews every ttl/3, so its lease always has more than 2/3 of the ttl left. One with
   * less missed a renewal and is probably gone (a crashed pod on another node): wait for it to expire, once, instead
   * of failing a restart. A live holder still refuses at once.
   */
  static async acquireOrOutlast(name: LeaseName, purpose: string, opts: LeaseOptions & { onWait?: (holder: LeaseRecord) => void }): Promise<HeldLease> {
    try {
      return await HeldLease.acquire(name, purpose, opts);
    } catch (e) {
      if (!(e instanceof LeaseHeldError)) throw e;
      const ttl = opts.ttlMs ?? DEFAULT_TTL_MS;
      const left = Date.parse(e.holder.expiresAt) - opts.clock.now().getTime();
      if (left > (ttl * 2) / 3) throw e;
      opts.onWait?.(e.holder);
      await new Promise((r) => setTimeout(r, Math.max(0, left) + 250));
      return HeldLease.acquire(name, purpose, opts);
    }
  }

  /** Extends the lease; false (and onLost) when it is no longer ours. */
  async renew(): Promise<boolean> {
    const now = this.opts.clock.now();
    const ok = await this.opts.store.renew(this.name, this.owner.id, this.ttl, now);
    if (ok) this.confirmedAt = Math.max(this.confirmedAt, now.getTime());
    if (!ok && !this.released) {
      this.stopTimer();
      heldHere.delete(this.owner.id);
      this.doubt(`the ${this.name} lease was taken by another process`);
      let holder: LeaseRecord | undefined;
      try {
        holder = await this.opts.store.holder(this.name, this.opts.clock.now());
      } catch {
        holder = undefined; // the loss is reported all the same
      }
      this.opts.onLost?.(holder);
    }
    return ok;
  }

  /** The timer's renewal: one at a time, and a failure goes to onRenewError, never to an unhandled rejection. */
  private renewOnTimer(): void {
    if (this.renewing) return this.checkDeadline();
    this.renewing = this.renew()
      .catch((e: unknown) => {
        this.checkDeadline();
        this.opts.onRenewError?.(e);
      })
      .finally(() => {
        this.renewing = null;
      });
  }

  /** Stops renewing (after the renewal in flight) and drops the lease. */
  async release(): Promise<void> {
    this.released = true;
    this.stopTimer();
    heldHere.delete(this.owner.id);
    await this.renewing;
    await this.opts.store.release(this.name, this.owner.id);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
