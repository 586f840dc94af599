import { schedule, type ScheduledTask } from 'node-cron';
import type { Config } from '../config/schema';
import type { Clock } from '../core/clock';
import type { Logger } from '../logger';
import type { IdentityStore } from '../store/types';
import type { ChangeFeed } from '../store/change-feed';
import type { RunOptions } from './reconciler';
import type { RunReport } from './types';

export interface LoopDeps {
  reconciler: { runOnce(opts: RunOptions): Promise<RunReport> };
  store: Pick<IdentityStore, 'latestSeq'>;
  config: Pick<Config['reconcile'], 'schedule' | 'debounce' | 'maxBackoff'>;
  clock: Clock;
  logger: Logger;
  /** Wake-ups from commits by any process (PostgreSQL LISTEN/NOTIFY); optional, the poll works without it. */
  changes?: ChangeFeed;
  /** Journal poll interval; default 100 ms. */
  pollInterval?: number;
  /** First retry delay after a failure; default 1 s, doubling up to config.maxBackoff. */
  initialBackoff?: number;
  /** Run once at start(); default true. */
  runAtStart?: boolean;
}

type Trigger = RunReport['trigger'];

/**
 * Drives the reconciler: a debounced run after SCIM changes (the change feed, notifyChange(), or the journal
 * poll), a full run on the cron schedule, and retries with exponential backoff while Airflow is down, so nothing
 * acknowledged over SCIM is lost. Never overlaps: a request during a run becomes one more run after it. Timers
 * are unref()'d.
 *
 * Why the poll stays beside the feed: a notification is a hint sent once. One sent while the LISTEN connection
 * was down (a PostgreSQL restart, a network cut not yet noticed) is gone, and SQLite has no feed across processes;
 * the journal read every pollInterval finds such changes anyway. It is one indexed max(seq) read, on the leader only.
 */
export class ReconcileLoop {
  private running: Promise<void> | null = null;
  private pending: Trigger | null = null;
  private stopped = true;
  private debounceTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private cronTask: ScheduledTask | null = null;
  private firstChangeAt: number | null = null;
  /** The journal position last seen; null until the first read after start(). */
  private seenSeq: number | null = null;
  /** The journal read in flight: a poll never starts while one runs (a slow database skips ticks instead). */
  private polling: Promise<void> | null = null;
  private unsubscribe: (() => void) | null = null;
  private backoff: number;

  constructor(private readonly deps: LoopDeps) {
    this.backoff = deps.initialBackoff ?? 1000;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.seenSeq = null;
    this.unsubscribe = this.deps.changes?.subscribe((seq) => this.onFeed(seq)) ?? null;
    this.poll(); // reads the starting position now; only changes after it wake the loop
    this.pollTimer = setInterval(() => this.poll(), this.deps.pollInterval ?? 100);
    this.pollTimer.unref();
    this.cronTask = schedule(this.deps.config.schedule, () => this.request('schedule'), { name: 'reconcile', noOverlap: true });
    this.cronTask.unref();
    if (this.deps.runAtStart ?? true) this.request('startup');
  }

  /** Stops timers and the schedule, then waits for the journal read in flight and the current run. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const t of [this.debounceTimer, this.retryTimer]) if (t) clearTimeout(t);
    if (this.pollTimer) clearInterval(this.pollTimer);
    this.debounceTimer = this.retryTimer = this.pollTimer = null;
    this.pending = null;
    await this.cronTask?.destroy();
    this.cronTask = null;
    await this.polling;
    await this.running;
  }

  /** The SCIM layer calls this after a write; waits for a quiet debounce period, at most 20 debounces in a burst. */
  notifyChange(): void {
    if (this.stopped) return;
    const now = this.deps.clock.now().getTime();
    this.firstChangeAt ??= now;
    const debounce = this.deps.config.debounce;
    const maxWait = Math.max(debounce * 20, 1000);
    const delay = Math.max(0, Math.min(debounce, this.firstChangeAt + maxWait - now));
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = null;
      this.firstChangeAt = null;
      this.request('change');
    }, delay);
    this.debounceTimer.unref();
  }

  /** True while a run is in progress (for tests and /readyz). */
  get busy(): boolean {
    return this.running !== null;
  }

  /**
   * A commit somewhere: with its seq, a change past the last one seen wakes the loop at once, without a read;
   * without one (or before the starting position is known) the journal is read now.
   */
  private onFeed(seq: number | undefined): void {
    if (this.stopped) return;
    if (seq === undefined || this.seenSeq === null) return this.poll();
    if (seq > this.seenSeq) {
      this.seenSeq = seq;
      this.notifyChange();
    }
  }

  /** One journal read at a time; a failed read is logged and the next tick tries again. */
  private poll(): void {
    if (this.polling || this.stopped) return;
    this.polling = this.readJournal().finally(() => {
      this.polling = null;
    });
  }

  private async readJournal(): Promise<void> {
    try {
      const latest = await this.deps.store.latestSeq();
      if (this.seenSeq === null) this.seenSeq = latest;
      else if (latest > this.seenSeq) {
        this.seenSeq = latest;
        this.notifyChange();
      }
    } catch (e) {
      // Without a starting position, any change found later wakes a run: one run too many, never one too few.
      this.seenSeq ??= 0;
      if (!this.stopped) this.deps.logger.error('could not read the change journal', { component: 'reconcile', error: (e as Error).message });
    }
  }

  private request(trigger: Trigger): void {
    if (this.stopped) return;
    // While backing off, the retry run (on full state) covers every request.
    if (this.retryTimer) return;
    if (this.running) {
      this.pending ??= trigger;
      return;
    }
    this.running = this.runNow(trigger).finally(() => {
      this.running = null;
      const next = this.pending;
      this.pending = null;
      if (next && !this.retryTimer) this.request(next);
    });
  }

  private async runNow(trigger: Trigger): Promise<void> {
    const { logger } = this.deps;
    let report: RunReport | undefined;
    try {
      report = await this.deps.reconciler.runOnce({ trigger });
    } catch (e) {
      logger.error('reconcile run threw', { component: 'reconcile', error: (e as Error).message });
    }
    const retry = !report || report.result === 'failed' || (report.result === 'partial' && report.transient === true);
    if (retry) {
      if (this.stopped) return;
      const delay = this.backoff;
      this.backoff = Math.min(this.backoff * 2, this.deps.config.maxBackoff);
      logger.warn('reconcile will retry', { component: 'reconcile', inMs: delay, error: report?.error });
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.request(trigger);
      }, delay);
      this.retryTimer.unref();
      return;
    }
    this.backoff = this.deps.initialBackoff ?? 1000;
  }
}
