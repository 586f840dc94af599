import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Clock } from '../core/clock';
import type { Logger } from '../logger';
import { describeHolder, type LeaseOwner, type LeaseStore } from '../store/lease-types';
import { holderIsDead, markHeldHere } from './process-lease';

/** Leader lease lifetime: a leader that dies (kill -9, a lost node) is replaced within ttl + retry, under 15 s. */
export const LEADER_TTL_MS = 10_000;

export interface ElectorOptions {
  store: LeaseStore;
  clock: Clock;
  logger: Logger;
  ttlMs?: number;
  /** How often a follower asks and a leader renews; default ttl/3. */
  retryMs?: number;
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
 * that dies is replaced once its lease expires (ttl) plus at most one retry period. A leader that fails to renew
 * (a stall longer than the ttl, a lost database) steps down before anyone else can have taken over.
 */
export class LeaderElector {
  private readonly owner: LeaseOwner = { id: randomUUID(), pid: process.pid, host: os.hostname(), purpose: 'reconcile leader' };
  private timer: NodeJS.Timeout | null = null;
  private leader = false;
  private ticking: Promise<void> | null = null;
  private stopped = true;

  constructor(private readonly o: ElectorOptions) {}

  get isLeader(): boolean {
    return this.leader;
  }

  private get ttl(): number {
    return this.o.ttlMs ?? LEADER_TTL_MS;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.tick();
    this.timer = setInterval(() => void this.tick(), this.o.retryMs ?? Math.floor(this.ttl / 3));
    this.timer.unref();
  }

  /** One election step; never overlaps itself, never throws (a database error makes a leader step down). */
  tick(): Promise<void> {
    this.ticking ??= this.step().finally(() => (this.ticking = null));
    return this.ticking;
  }

  private async step(): Promise<void> {
    if (this.stopped) return;
    const now = this.o.clock.now();
    try {
      if (this.leader) {
        if (!(await this.o.store.renew('leader', this.owner.id, this.ttl, now))) await this.stepDown('the leader lease was taken by another replica');
        return;
      }
      const r = await this.o.store.tryAcquire('leader', this.owner, this.ttl, now, holderIsDead);
      if (r.ok && !this.stopped) {
        this.leader = true;
        markHeldHere(this.owner.id, true);
        this.o.logger.info('elected reconcile leader', { ttlMs: this.ttl });
        this.o.onChange?.(true);
        this.o.onElected();
      } else if (!r.ok) {
        this.o.logger.debug('following the reconcile leader', { leader: describeHolder(r.holder) });
      }
    } catch (e) {
      this.o.logger.warn('leader election step failed', { err: (e as Error).message });
      if (this.leader) await this.stepDown('the leader lease could not be renewed');
    }
  }

  private async stepDown(reason: string): Promise<void> {
    this.leader = false;
    markHeldHere(this.owner.id, false);
    this.o.logger.warn('stepping down as reconcile leader', { reason });
    this.o.onChange?.(false);
    await this.o.onDeposed();
  }

  /** Stops asking; a leader stops reconciling, then releases the lease so a follower takes over at its next retry. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.ticking;
    if (this.leader) {
      this.leader = false;
      markHeldHere(this.owner.id, false);
      this.o.onChange?.(false);
      await this.o.onDeposed();
      await this.o.store.release('leader', this.owner.id).catch((e: Error) => this.o.logger.warn('could not release the leader lease', { err: e.message }));
    }
  }
}
