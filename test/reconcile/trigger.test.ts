import { MemoryAirflowClient } from '../../src/airflow/memory-client';
import { AirflowError } from '../../src/airflow/types';
import { configSchema } from '../../src/config/schema';
import { systemClock } from '../../src/core/clock';
import { silentLogger } from '../../src/logger';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import { Reconciler, type RunOptions } from '../../src/reconcile/reconciler';
import { ReconcileLoop, type LoopDeps } from '../../src/reconcile/trigger';
import type { RunReport } from '../../src/reconcile/types';
import type { RunResult } from '../../src/store/reconcile-state';
import { MemoryAuditLog } from '../../src/store/memory-audit';
import { MemoryIdentityStore } from '../../src/store/memory-identity';
import { LocalChangeFeed } from '../../src/store/change-feed';

const ctx = { actor: 'test' };
/** The contract-tested in-memory store; touch() is a real SCIM write, so it lands in the journal. */
class Store extends MemoryIdentityStore {
  private n = 0;
  constructor() {
    super(new MemoryAuditLog());
  }
  async touch(): Promise<void> {
    await this.createUser({ userName: `touch-${++this.n}`, active: true }, ctx);
  }
}

/** The same store whose journal reads can be made to fail or to hang until let go (a slow or broken database). */
class SlowStore extends Store {
  reads = 0;
  inFlight = 0;
  maxInFlight = 0;
  failing = false;
  hold: Promise<void> | null = null;
  override async latestSeq(): Promise<number> {
    this.reads++;
    this.maxInFlight = Math.max(this.maxInFlight, ++this.inFlight);
    try {
      if (this.hold) await this.hold;
      if (this.failing) throw new Error('SQLITE_BUSY: database is locked');
      return await super.latestSeq();
    } finally {
      this.inFlight--;
    }
  }
}

// Timing is asserted under fake timers only: time moves when a test advances it, so every interval is exact and
// nothing depends on the machine's load. The remaining real-timer tests only wait for events (no duration asserted).
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const advance = (ms: number): Promise<void> => jest.advanceTimersByTimeAsync(ms);
let faked = false;
/** Waits until cond holds: in 1 ms steps of fake time under fake timers, else polling real time. */
async function until(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (let t = 0; !cond(); t++) {
    if (faked ? t > timeoutMs : Date.now() > end) throw new Error('condition not met in time');
    if (faked) await advance(1);
    else await sleep(5);
  }
}
const fakeTimers = (): void => {
  beforeEach(() => {
    jest.useFakeTimers();
    faked = true;
  });
  afterEach(() => {
    jest.useRealTimers();
    faked = false;
  });
};

/** A reconciler whose runs take `duration` ms and return scripted results. */
class ScriptedReconciler {
  runs: Array<{ trigger: RunOptions['trigger']; start: number; end?: number }> = [];
  active = 0;
  maxActive = 0;
  constructor(private readonly results: RunResult[] = [], private readonly duration = 0) {}
  async runOnce(opts: RunOptions): Promise<RunReport> {
    const run: { trigger: RunOptions['trigger']; start: number; end?: number } = { trigger: opts.trigger, start: Date.now() };
    this.runs.push(run);
    this.maxActive = Math.max(this.maxActive, ++this.active);
    await sleep(this.duration);
    this.active--;
    run.end = Date.now();
    const result = this.results.shift() ?? 'nothing-to-do';
    return { trigger: opts.trigger, dryRun: false, started: '', finished: '', result, seq: 0, plan: { actions: [], drift: [], unchanged: 0, managedUsers: 0 }, verdict: { allowed: [], held: [], blocked: null }, outcomes: [], ...(result === 'failed' ? { transient: true } : {}) };
  }
}

const loops: ReconcileLoop[] = [];
function makeLoop(reconciler: LoopDeps['reconciler'], store = new Store(), over: Partial<LoopDeps> = {}): ReconcileLoop {
  const loop = new ReconcileLoop({
    reconciler,
    store,
    config: { schedule: '0 0 1 1 *', debounce: 30, maxBackoff: 40 },
    clock: systemClock,
    logger: silentLogger(),
    pollInterval: 5,
    initialBackoff: 10,
    runAtStart: false,
    ...over,
  });
  loops.push(loop);
  return loop;
}
afterEach(async () => {
  await Promise.all(loops.splice(0).map((l) => l.stop()));
});

describe('ReconcileLoop (fake timers)', () => {
  fakeTimers();
  test('the change feed wakes the loop without waiting for a poll; a wake-up without a new change runs nothing; stop() unsubscribes', async () => {
    const store = new SlowStore();
    const feed = new LocalChangeFeed();
    const rec = new ScriptedReconciler();
    const loop = makeLoop(rec, store, { changes: feed, pollInterval: 3_600_000 }); // the poll would take an hour
    loop.start();
    await advance(1);
    const readsAtStart = store.reads;
    await store.touch();
    feed.emit(await store.latestSeq()); // PostgreSQL: the notification carries the seq, no journal read needed
    await advance(40); // the debounce (30 ms)
    expect(rec.runs.map((r) => r.trigger)).toEqual(['change']);
    expect(store.reads).toBe(readsAtStart + 1); // only the test's own latestSeq() above
    feed.emit(await store.latestSeq()); // the same seq again (a duplicate) and a lease transaction (no seq): no run
    feed.emit();
    await advance(100);
    expect(rec.runs).toHaveLength(1);
    await store.touch();
    feed.emit(); // a reconnect: the loop reads the journal itself and finds the change
    await advance(40);
    expect(rec.runs).toHaveLength(2);
    await loop.stop();
    await store.touch();
    feed.emit(await store.latestSeq());
    await advance(100);
    expect(rec.runs).toHaveLength(2);
  });

  test('a burst of journal changes is coalesced into one run after a quiet debounce', async () => {
    const store = new Store();
    const rec = new ScriptedReconciler();
    const loop = makeLoop(rec, store);
    loop.start();
    for (let i = 0; i < 5; i++) {
      await store.touch();
      await advance(10); // a change every 10 ms, debounce 30 ms
    }
    expect(rec.runs).toHaveLength(0);
    await advance(40);
    expect(rec.runs.map((r) => r.trigger)).toEqual(['change']);
    await advance(500);
    expect(rec.runs).toHaveLength(1);
    await loop.stop();
  });

  test('no overlap: changes during a run schedule exactly one more run after it', async () => {
    const rec = new ScriptedReconciler([], 200);
    const loop = makeLoop(rec);
    loop.start();
    loop.notifyChange();
    await until(() => rec.active === 1);
    for (let i = 0; i < 3; i++) {
      loop.notifyChange();
      await advance(35); // each debounce fires during the run
    }
    await until(() => rec.runs.length === 2 && rec.active === 0);
    await advance(100);
    expect(rec.runs).toHaveLength(2);
    expect(rec.maxActive).toBe(1);
    expect(rec.runs[1].start).toBeGreaterThanOrEqual(rec.runs[0].end!);
  });

  test('failures back off exponentially up to maxBackoff, then reset after success', async () => {
    const rec = new ScriptedReconciler(['failed', 'failed', 'failed', 'failed', 'applied']);
    const loop = makeLoop(rec);
    loop.start();
    loop.notifyChange();
    await until(() => rec.runs.length === 5);
    const gaps = rec.runs.slice(1).map((r, i) => r.start - rec.runs[i].end!);
    // 10, 20, 40, 40 (capped at maxBackoff), exactly: fake time
    expect(gaps).toEqual([10, 20, 40, 40]);
    await advance(100);
    expect(rec.runs).toHaveLength(5); // success stops the retries
  });

  test('while Airflow is down nothing is lost: retries until it converges', async () => {
    const store = new Store();
    const airflow = new MemoryAirflowClient();
    const unreachable = () => new AirflowError('unreachable', 'ECONNREFUSED');
    airflow.failNext(unreachable(), unreachable(), unreachable(), unreachable(), unreachable());
    const config = configSchema.parse({ roles: { mappings: [{ group: 'airflow-users', roles: ['User'] }] } });
    const state = new MemoryReconcileState<RunReport>();
    const reconciler = new Reconciler({ store, airflow, state, audit: new MemoryAuditLog(), config, clock: systemClock, logger: silentLogger() });
    const results: string[] = [];
    const spy = { runOnce: async (o: RunOptions) => { const r = await reconciler.runOnce(o); results.push(r.result); return r; } };
    makeLoop(spy, store).start();

    const alice = await store.createUser({ userName: 'alice', active: true }, ctx);
    await store.createGroup({ displayName: 'airflow-users' }, [alice.id], ctx);
    await until(() => results.includes('applied'));
    expect(results[0]).toBe('failed');
    expect(results.filter((r) => r === 'failed').length).toBeGreaterThanOrEqual(2);
    expect(airflow.peekUser('alice')?.roles).toEqual(['User']);
  });

  test('a journal read that fails is logged, never an unhandled rejection; the next poll reads again', async () => {
    const store = new SlowStore();
    const rec = new ScriptedReconciler();
    const logger = silentLogger();
    const errors = jest.spyOn(logger, 'error');
    const loop = makeLoop(rec, store, { logger });
    loop.start();
    await advance(1); // the starting position is read
    store.failing = true;
    await advance(20); // four polls (every 5 ms), each failing
    expect(errors).toHaveBeenCalledWith('could not read the change journal', expect.objectContaining({ error: expect.stringContaining('database is locked') }));
    const failures = errors.mock.calls.length;
    expect(failures).toBeGreaterThanOrEqual(3);
    store.failing = false;
    await store.touch(); // a change while the database was failing is found by the next good read
    await advance(40);
    expect(rec.runs.map((r) => r.trigger)).toEqual(['change']);
    expect(errors.mock.calls.length).toBe(failures);
    await loop.stop();
  });

  test('journal reads never overlap: while one is slow, poll ticks are skipped; stop() waits for it', async () => {
    const store = new SlowStore();
    const rec = new ScriptedReconciler();
    const loop = makeLoop(rec, store);
    let letGo!: () => void;
    store.hold = new Promise((r) => (letGo = r));
    loop.start();
    await advance(50); // ten poll ticks while the first read hangs
    expect(store.reads).toBe(1);
    const stopped = loop.stop();
    letGo();
    await stopped;
    expect(store.inFlight).toBe(0);
    expect(store.maxInFlight).toBe(1);
  });

  test('a read that fails at start() still lets a later change wake a run', async () => {
    const store = new SlowStore();
    const rec = new ScriptedReconciler();
    const loop = makeLoop(rec, store, { logger: silentLogger() });
    store.failing = true;
    loop.start();
    await advance(1);
    store.failing = false;
    await store.touch();
    await advance(40);
    expect(rec.runs.map((r) => r.trigger)).toEqual(['change']);
    await loop.stop();
  });
});

describe('ReconcileLoop (real timers: node-cron and stop() wait on real time)', () => {
  test('notifyChange() triggers a run without waiting for the poll; startup runs once', async () => {
    const rec = new ScriptedReconciler();
    const loop = makeLoop(rec, new Store(), { pollInterval: 10_000, runAtStart: true });
    loop.start();
    await until(() => rec.runs.length === 1);
    loop.notifyChange();
    await until(() => rec.runs.length === 2);
    expect(rec.runs.map((r) => r.trigger)).toEqual(['startup', 'change']);
  });

  test('stop() waits for the current run and no run starts afterwards', async () => {
    const store = new Store();
    const rec = new ScriptedReconciler([], 50);
    const loop = makeLoop(rec, store);
    loop.start();
    loop.notifyChange();
    await until(() => rec.active === 1);
    await loop.stop();
    expect(rec.active).toBe(0);
    expect(loop.busy).toBe(false);
    await store.touch();
    loop.notifyChange();
    await sleep(80);
    expect(rec.runs).toHaveLength(1);
  });

  test('the cron schedule triggers full runs', async () => {
    const rec = new ScriptedReconciler();
    makeLoop(rec, new Store(), { config: { schedule: '* * * * * *', debounce: 30, maxBackoff: 40 } }).start();
    await until(() => rec.runs.length >= 1, 2500);
    expect(rec.runs[0].trigger).toBe('schedule');
  });
});
