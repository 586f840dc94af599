import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Clock } from '../core/clock';
import type { Logger } from '../logger';
import { describeHolder, type LeaseOwner, type LeaseRecord, type LeaseStore } from '../store/lease-types';
import { holderIsDead, markHeldHere } from './process-lease';

const STOPPING = 'stopping';

/** Leader lease lifetime: a leader that dies (kill -9, a lost node) is replaced within ttl + retry (11 s), under 15 s. */
export const LEADER_TTL_MS = 10_000;

export interface ElectorOptions {
  store: LeaseStore;
  clock: Clock;
  logger: Logger;
  ttlMs?: number;
  /** How often a follower asks and a leader renews; default ttl/10 (1 s: one short transaction per replica). */
  retryMs?: number;
  /** Holders known to be gone (default holderIsDead: a dead pid on this host). */
  isDead?: (holder: LeaseRecord) => boolean;
  /** Recorded in the lease; default this process's pid and host. */
  owner?: Partial<Omit<LeaseOwner, 'id'>>;
  /** Became leader: start reconciling. */
  onElected: () => void;
  /** No longer leader (lost the lease, or stopping): stop reconciling. Awaited before the lease is released. */
  onDeposed: () => Promise<void>;
  /** For the reconcile_leader gauge. */
  onChange?: (leader: boolean) => void;
}

/**
 * One reconciling replica among many (the 'leader' lease in the shared database). Every replica serves SCIM; only
 * the leader runs the reconcile loop. A follower asks every retry period; the leader renews as often, so a leader
 * that dies is replaced once its lease expires (ttl) plus at most one retry period (10 s + 1 s by default).
 *
 * A leader that cannot renew (the database fails or hangs) keeps leading only while its lease is certainly still
 * valid: once its last confirmed renewal is 2/3 of the ttl old (with the defaults, after six failed renewals and
 * 3.3 s before the lease could expire), it steps down, so onDeposed runs before any other replica can take over.
 * That margin is also the clock skew between replicas it tolerates (the lease's expiry is compared on other hosts).
 * A renewal answered "not yours" (another replica took it) steps down at once.
 */
export class LeaderElector {
  private readonly owner: LeaseOwner;
  private timer: NodeJS.Timeout | null = null;
  private leader = false;
  private ticking: Promise<void> | null = null;
  /** The step-down in progress (onDeposed awaited); no new election until it has finished. */
  private deposing: Promise<void> | null = null;
  /** Set by stop(); an elector asks from construction on, start() adds the timer (tests tick by hand). */
  private stopped = false;
  /** Our lease's expiry as last confirmed: the start of the successful acquire or renewal, plus the ttl. */
  private validUntil = 0;

  constructor(private readonly o: ElectorOptions) {
    this.owner = { id: randomUUID(), pid: o.owner?.pid ?? process.pid, host: o.owner?.host ?? os.hostname(), purpose: o.owner?.purpose ?? 'reconcile leader' };
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** The id recorded in the lease (for tests and status). */
  get id(): string {
    return this.owner.id;
  }

  private get ttl(): number {
    return this.o.ttlMs ?? LEADER_TTL_MS;
  }

  private get retry(): number {
    return this.o.retryMs ?? Math.floor(this.ttl / 10);
  }

  /** One step now, then one every retry period (timers unref()'d). */
  async start(): Promise<void> {
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.retry);
    this.timer.unref();
  }

  /**
   * One election step; never overlaps itself, never throws. While a step is still in flight (a renewal hanging on
   * a stalled database) the tick only checks the deadline, so such a leader still steps down in time.
   */
  tick(): Promise<void> {
    if (this.ticking) this.expireIfDue();
    else this.ticking = this.step().finally(() => (this.ticking = null));
    return this.ticking;
  }

  private async step(): Promise<void> {
    if (this.stopped) return;
    const now = this.o.clock.now();
    if (this.leader) {
      let ok: boolean;
      try {
        ok = await this.o.store.renew('leader', this.owner.id, this.ttl, now);
      } catch (e) {
        this.o.logger.warn('could not renew the leader lease', { err: (e as Error).message, validUntil: new Date(this.validUntil).toISOString() });
        this.expireIfDue();
        return;
      }
      if (!this.leader) {
        // Stepped down (deadline) while this renewal was in flight: do not leave a renewed lease nobody uses.
        if (ok) await this.release();
        return;
      }
      if (ok) this.validUntil = now.getTime() + this.ttl;
      else this.stepDown('the leader lease was taken by another replica');
      return;
    }
    if (this.deposing) return;
    let r;
    try {
      r = await this.o.store.tryAcquire('leader', this.owner, this.ttl, now, this.o.isDead ?? holderIsDead);
    } catch (e) {
      this.o.logger.warn('leader election step failed', { err: (e as Error).message });
      return;
    }
    if (!r.ok) {
      this.o.logger.debug('following the reconcile leader', { leader: describeHolder(r.holder) });
      return;
    }
    if (this.stopped) {
      await this.release(); // stop() came while we asked: hand the lease straight back
      return;
    }
    this.leader = true;
    this.validUntil = now.getTime() + this.ttl;
    markHeldHere(this.owner.id, true);
    this.o.logger.info('elected reconcile leader', { ttlMs: this.ttl });
    this.o.onChange?.(true);
    this.o.onElected();
  }

  /** Steps down when the lease may be gone before the next renewal could confirm it (class comment). */
  private expireIfDue(): void {
    if (this.leader && this.o.clock.now().getTime() >= this.validUntil - Math.max(this.ttl / 3, 1.5 * this.retry)) {
      this.stepDown('the leader lease could not be renewed in time');
    }
  }

  /** Synchronous switch to follower (no second step-down can start), then onDeposed, awaited through `deposing`. */
  private stepDown(reason: string): void {
    if (!this.leader) return;
    this.leader = false;
    markHeldHere(this.owner.id, false);
    this.o.logger.log(reason === STOPPING ? 'info' : 'warn', 'stepping down as reconcile leader', { reason });
    this.o.onChange?.(false);
    this.deposing = this.o
      .onDeposed()
      .catch((e: Error) => void this.o.logger.error('stopping the reconcile loop failed', { err: e.message }))
      .finally(() => (this.deposing = null));
  }

  private release(): Promise<void> {
    return this.o.store.release('leader', this.owner.id).catch((e: Error) => void this.o.logger.warn('could not release the leader lease', { err: e.message }));
  }

  /** Stops asking; a leader stops reconciling, then releases the lease so a follower takes over at its next retry. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
    const wasLeader = this.leader;
    this.stepDown(STOPPING);
    await this.deposing;
    if (wasLeader) await this.release();
  }
}
