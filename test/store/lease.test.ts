import { systemClock } from '../../src/core/clock';
import { HeldLease } from '../../src/server/process-lease';
import { openDatabase } from '../../src/store/database';
import type { LeaseName, LeaseRecord } from '../../src/store/lease-types';
import { MemoryLeaseStore } from '../../src/store/memory-lease';
import { SqlLeaseStore } from '../../src/store/sql/leases';
import { runLeaseStoreContract } from './lease.contract';
import { sqliteDriverFor } from '../../src/store/sql/sqlite-driver';
import { pgSchemaPerBlock } from '../support/pg-schema';

runLeaseStoreContract('memory', () => new MemoryLeaseStore());
runLeaseStoreContract('sqlite', () => new SqlLeaseStore(sqliteDriverFor(openDatabase(':memory:'))));
describe('PostgreSQL', () => {
  const pg = pgSchemaPerBlock();
  runLeaseStoreContract('postgres', () => new SqlLeaseStore(pg.shared()));
});

describe('HeldLease.waitFor', () => {
  test('waits while another owner holds the lease, tells once, and takes it when released', async () => {
    const store = new MemoryLeaseStore();
    const first = await HeldLease.acquire('reconcile', 'first', { store, clock: systemClock, database: 'db' });
    const told: string[] = [];
    const second = HeldLease.waitFor('reconcile', 'second', { store, clock: systemClock, database: 'db', waitMs: Infinity, pollMs: 5, onWait: (h) => told.push(h.purpose) });
    await new Promise((r) => setImmediate(r));
    expect(told).toEqual(['first']);
    await first.release();
    const held = await second;
    expect((await store.holder('reconcile', new Date()))?.purpose).toBe('second');
    await held.release();
  });

  test('refuses at once with waitMs 0, naming the holder and the database; an abort ends a wait', async () => {
    const store = new MemoryLeaseStore();
    const first = await HeldLease.acquire('reconcile', 'first', { store, clock: systemClock, database: '/data/x.db' });
    await expect(HeldLease.waitFor('reconcile', 'second', { store, clock: systemClock, database: '/data/x.db', waitMs: 0 })).rejects.toThrow(
      new RegExp(`a reconcile run is in progress: database /data/x.db is in use by pid ${process.pid} on host .* \\(first, since`),
    );
    const abort = new AbortController();
    const waiting = HeldLease.waitFor('reconcile', 'second', { store, clock: systemClock, database: 'db', waitMs: Infinity, pollMs: 5, signal: abort.signal });
    abort.abort();
    await expect(waiting).rejects.toThrow(/stopped while waiting for the reconcile lease/);
    await first.release();
  });
});

/** A lease store whose renewals fail (the database does not answer) or hang until let go. */
class FlakyLeaseStore extends MemoryLeaseStore {
  renewals = 0;
  failing = false;
  hold: Promise<void> | null = null;
  override async renew(name: LeaseName, ownerId: string, ttlMs: number, now: Date): Promise<boolean> {
    this.renewals++;
    if (this.hold) await this.hold;
    if (this.failing) throw new Error('database is locked');
    return super.renew(name, ownerId, ttlMs, now);
  }
}

describe('HeldLease renewal (fake timers)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());
  const opts = (store: MemoryLeaseStore, extra: { onRenewError?: (e: unknown) => void; onLost?: (h: LeaseRecord | undefined) => void } = {}) => ({
    store, clock: systemClock, database: 'db', ttlMs: 3000, ...extra,
  });

  test('a failed renewal goes to onRenewError, never to an unhandled rejection, and the next tick tries again', async () => {
    const store = new FlakyLeaseStore();
    const errors: string[] = [];
    const lost: unknown[] = [];
    const lease = await HeldLease.acquire('service', 'serve', opts(store, { onRenewError: (e) => errors.push((e as Error).message), onLost: (h) => lost.push(h) }));
    store.failing = true;
    await jest.advanceTimersByTimeAsync(2000); // two ticks (every ttl/3 = 1 s)
    expect(store.renewals).toBe(2);
    expect(errors).toEqual(['database is locked', 'database is locked']);
    store.failing = false;
    await jest.advanceTimersByTimeAsync(1000);
    expect(store.renewals).toBe(3);
    expect(errors).toHaveLength(2);
    expect(lost).toEqual([]);
    await lease.release();
    await jest.advanceTimersByTimeAsync(5000);
    expect(store.renewals).toBe(3); // released: the timer is gone
  });

  test('renewals never overlap: a tick while one is in flight is skipped; release waits for it', async () => {
    const store = new FlakyLeaseStore();
    let letGo!: () => void;
    store.hold = new Promise((r) => (letGo = r));
    const lost: unknown[] = [];
    const lease = await HeldLease.acquire('service', 'serve', opts(store, { onLost: (h) => lost.push(h) }));
    await jest.advanceTimersByTimeAsync(5000);
    expect(store.renewals).toBe(1);
    const released = lease.release();
    letGo();
    await released;
    expect(await store.holder('service', new Date())).toBeUndefined();
    expect(lost).toEqual([]); // the renewal that ended after the release is not a loss
  });

  test('a lease taken over by another process is reported once through onLost, with the new holder', async () => {
    const store = new FlakyLeaseStore();
    const lost: Array<LeaseRecord | undefined> = [];
    await HeldLease.acquire('service', 'serve', opts(store, { onLost: (h) => lost.push(h) }));
    // Another process took it (ours expired while this one stalled).
    await store.tryAcquire('service', { id: 'other', pid: 1, host: 'elsewhere', purpose: 'serve' }, 30_000, new Date(Date.now() + 10_000));
    await jest.advanceTimersByTimeAsync(5000);
    expect(lost.map((h) => h?.id)).toEqual(['other']);
    expect(store.renewals).toBe(1); // the timer stopped
  });

  test('the signal: taken over aborts it at once', async () => {
    const store = new FlakyLeaseStore();
    const lease = await HeldLease.acquire('reconcile', 'run', opts(store));
    await store.tryAcquire('reconcile', { id: 'other', pid: 1, host: 'elsewhere', purpose: 'run' }, 30_000, new Date(Date.now() + 10_000));
    expect(lease.signal.aborted).toBe(false);
    await jest.advanceTimersByTimeAsync(1000);
    expect(lease.signal.aborted).toBe(true);
    expect((lease.signal.reason as Error).message).toMatch(/the reconcile lease was taken by another process/);
  });

  test('the signal: one failed renewal leaves it alone; failures until the last confirmed renewal is ttl/2 old abort it', async () => {
    const store = new FlakyLeaseStore();
    const lease = await HeldLease.acquire('reconcile', 'run', opts(store)); // ttl 3 s, renewals every 1 s
    await jest.advanceTimersByTimeAsync(1000); // confirmed at 1 s
    store.failing = true;
    await jest.advanceTimersByTimeAsync(1000); // 2 s: 1 s since the last confirmation
    expect(lease.signal.aborted).toBe(false);
    await jest.advanceTimersByTimeAsync(1000); // 3 s: 2 s > ttl/2, the lease may expire before the next renewal
    expect(lease.signal.aborted).toBe(true);
    expect((lease.signal.reason as Error).message).toMatch(/could not be renewed/);
    await lease.release();
  });

  test('the signal: a renewal that hangs aborts it when the deadline passes, not when the database answers', async () => {
    const store = new FlakyLeaseStore();
    let letGo!: () => void;
    const lease = await HeldLease.acquire('reconcile', 'run', opts(store));
    store.hold = new Promise((r) => (letGo = r));
    await jest.advanceTimersByTimeAsync(1000); // this renewal hangs
    expect(lease.signal.aborted).toBe(false);
    await jest.advanceTimersByTimeAsync(1000); // 2 s since the acquire: past ttl/2
    expect(lease.signal.aborted).toBe(true);
    store.hold = null;
    letGo();
    await lease.release();
  });
});
