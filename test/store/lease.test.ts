import { systemClock } from '../../src/core/clock';
import { HeldLease } from '../../src/server/process-lease';
import { openDatabase } from '../../src/store/database';
import { MemoryLeaseStore } from '../../src/store/memory-lease';
import { SqliteLeaseStore } from '../../src/store/sqlite-lease';
import { runLeaseStoreContract } from './lease.contract';

runLeaseStoreContract('memory', () => new MemoryLeaseStore());
runLeaseStoreContract('sqlite', () => new SqliteLeaseStore(openDatabase(':memory:')));

describe('HeldLease.waitFor', () => {
  test('waits while another owner holds the lease, tells once, and takes it when released', async () => {
    const store = new MemoryLeaseStore();
    const first = HeldLease.acquire('reconcile', 'first', { store, clock: systemClock, database: 'db' });
    const told: string[] = [];
    const second = HeldLease.waitFor('reconcile', 'second', { store, clock: systemClock, database: 'db', waitMs: Infinity, pollMs: 5, onWait: (h) => told.push(h.purpose) });
    await new Promise((r) => setImmediate(r));
    expect(told).toEqual(['first']);
    first.release();
    const held = await second;
    expect(store.holder('reconcile', new Date())?.purpose).toBe('second');
    held.release();
  });

  test('refuses at once with waitMs 0, naming the holder and the database; an abort ends a wait', async () => {
    const store = new MemoryLeaseStore();
    const first = HeldLease.acquire('reconcile', 'first', { store, clock: systemClock, database: '/data/x.db' });
    await expect(HeldLease.waitFor('reconcile', 'second', { store, clock: systemClock, database: '/data/x.db', waitMs: 0 })).rejects.toThrow(
      new RegExp(`a reconcile run is in progress: database /data/x.db is in use by pid ${process.pid} on host .* \\(first, since`),
    );
    const abort = new AbortController();
    const waiting = HeldLease.waitFor('reconcile', 'second', { store, clock: systemClock, database: 'db', waitMs: Infinity, pollMs: 5, signal: abort.signal });
    abort.abort();
    await expect(waiting).rejects.toThrow(/stopped while waiting for the reconcile lease/);
    first.release();
  });
});
