/**
 * LeaderElector: one reconciling replica among several, on the in-memory lease store and on the SQL one (SQLite and
 * PostgreSQL). Time is a ManualClock and the test ticks each replica once per retry period, as its timer would, so
 * every figure below is exact; one test at the end drives the real timers under jest's fake ones.
 */
import { ManualClock, systemClock, type Clock } from '../../src/core/clock';
import { silentLogger } from '../../src/logger';
import { LeaderElector } from '../../src/server/leader';
import type { AcquireResult, LeaseName, LeaseOwner, LeaseRecord, LeaseStore } from '../../src/store/lease-types';
import { MemoryLeaseStore } from '../../src/store/memory-lease';
import { openDatabase } from '../../src/store/database';
import { SqlLeaseStore } from '../../src/store/sql/leases';
import { sqliteDriverFor } from '../../src/store/sql/sqlite-driver';
import { openPostgres, type PgDriver } from '../../src/store/sql/pg-driver';
import { freshSchema, type FreshSchema } from '../support/postgres';

const TTL = 10_000;
/** The elector's default period for asking and renewing (ttl/10). */
const RETRY = TTL / 10;
/** A leader that cannot renew steps down this long before its lease could expire (ttl/3). */
const MARGIN = TTL / 3;

/** One replica's view of the shared lease store: its calls can be made to fail, or to hang until let go. */
class ReplicaStore implements LeaseStore {
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  private letGo: Array<() => void> = [];
  constructor(private readonly inner: LeaseStore) {}
  private async gate(): Promise<void> {
    if (this.mode === 'fail') throw new Error('connection terminated unexpectedly');
    if (this.mode === 'hang') await new Promise<void>((r) => this.letGo.push(r));
  }
  /** Ends the hang: the calls that were waiting go through to the database now. */
  heal(): void {
    this.mode = 'ok';
    for (const r of this.letGo.splice(0)) r();
  }
  async tryAcquire(name: LeaseName, owner: LeaseOwner, ttlMs: number, now: Date, isDead?: (h: LeaseRecord) => boolean): Promise<AcquireResult> {
    await this.gate();
    return this.inner.tryAcquire(name, owner, ttlMs, now, isDead);
  }
  async renew(name: LeaseName, ownerId: string, ttlMs: number, now: Date): Promise<boolean> {
    await this.gate();
    return this.inner.renew(name, ownerId, ttlMs, now);
  }
  async release(name: LeaseName, ownerId: string): Promise<void> {
    await this.gate();
    return this.inner.release(name, ownerId);
  }
  holder(name: LeaseName, now: Date): Promise<LeaseRecord | undefined> {
    return this.inner.holder(name, now);
  }
}

interface Replica {
  name: string;
  elector: LeaderElector;
  store: ReplicaStore;
  /** "elected@t", "deposed@t" with t in ms since the start of the test. */
  events: string[];
  /** The lease's holder (purpose) each time onDeposed ran. */
  heldWhenDeposed: Array<string | undefined>;
}

function cluster(shared: LeaseStore, clock: Clock, names: string[]) {
  const t0 = clock.now().getTime();
  const at = () => clock.now().getTime() - t0;
  const replicas: Replica[] = names.map((name) => {
    const store = new ReplicaStore(shared);
    const events: string[] = [];
    const heldWhenDeposed: Array<string | undefined> = [];
    const elector = new LeaderElector({
      store,
      clock,
      logger: silentLogger(),
      ttlMs: TTL,
      isDead: () => false, // every replica "on another host": only the ttl tells a dead one
      owner: { host: `host-${name}`, purpose: name },
      onElected: () => events.push(`elected@${at()}`),
      onDeposed: async () => {
        events.push(`deposed@${at()}`);
        heldWhenDeposed.push((await shared.holder('leader', clock.now()))?.purpose);
      },
    });
    return { name, elector, store, events, heldWhenDeposed };
  });
  return {
    replicas,
    at,
    leaders: () => replicas.filter((r) => r.elector.isLeader).map((r) => r.name),
    /** One tick of each given replica at the current instant, all at once (a real race on PostgreSQL). */
    tick: (which: Replica[] = replicas) => Promise.all(which.map((r) => r.elector.tick())),
  };
}

type StoreFactory = () => Promise<LeaseStore>;

function electionSuite(name: string, make: StoreFactory): void {
  describe(`LeaderElector on ${name}`, () => {
    let clock: ManualClock;
    beforeEach(() => {
      clock = new ManualClock();
    });

    test('three replicas asking at the same instant elect exactly one, and it keeps the lease by renewing', async () => {
      const shared = await make();
      const c = cluster(shared, clock, ['a', 'b', 'c']);
      await c.tick();
      expect(c.leaders()).toHaveLength(1);
      const [leader] = c.leaders();
      for (let i = 0; i < 12; i++) {
        clock.advance(RETRY);
        await c.tick();
        expect(c.leaders()).toEqual([leader]);
      }
      expect((await shared.holder('leader', clock.now()))?.purpose).toBe(leader);
      expect(c.replicas.flatMap((r) => r.events)).toEqual(['elected@0']);
    });

    test("the leader's stop() stops its loop, then releases: a follower takes over at its next retry", async () => {
      const shared = await make();
      const c = cluster(shared, clock, ['a', 'b']);
      const [a, b] = c.replicas;
      await c.tick([a]);
      await c.tick([b]);
      expect(c.leaders()).toEqual(['a']);
      clock.advance(1000);
      await a.elector.stop();
      // onDeposed ran while the lease was still ours: nobody reconciles beside the stopping loop.
      expect(a.heldWhenDeposed).toEqual(['a']);
      expect(a.events).toEqual(['elected@0', 'deposed@1000']);
      expect(await shared.holder('leader', clock.now())).toBeUndefined();
      clock.advance(RETRY); // b's next retry, long before a's lease would have expired
      await c.tick([b]);
      expect(c.leaders()).toEqual(['b']);
      expect(b.events).toEqual([`elected@${1000 + RETRY}`]);
    });

    test('a dead leader (no more renewals) is replaced once its lease expires, within ttl + one retry', async () => {
      const shared = await make();
      const c = cluster(shared, clock, ['a', 'b', 'c']);
      const [a] = c.replicas;
      await c.tick([a]);
      // a renews twice, then dies between two renewals (kill -9: no stop(), no release).
      for (let i = 0; i < 2; i++) {
        clock.advance(RETRY);
        await c.tick();
      }
      const lastRenewal = c.at();
      const followers = c.replicas.slice(1);
      // The followers' timers run out of phase with a's.
      clock.advance(RETRY / 2);
      let takeover: number | undefined;
      for (let i = 0; i < 30 && takeover === undefined; i++) {
        await c.tick(followers);
        if (followers.some((r) => r.elector.isLeader)) takeover = c.at();
        else clock.advance(RETRY);
      }
      expect(followers.filter((r) => r.elector.isLeader)).toHaveLength(1);
      expect(takeover).toBeGreaterThanOrEqual(lastRenewal + TTL);
      expect(takeover).toBeLessThanOrEqual(lastRenewal + TTL + RETRY);
      expect(takeover! - lastRenewal).toBeLessThan(15_000);
    });

    test('a leader whose renewals fail keeps leading while its lease is surely valid, then steps down before anyone can take over', async () => {
      const shared = await make();
      const c = cluster(shared, clock, ['a', 'b']);
      const [a, b] = c.replicas;
      await c.tick([a]);
      await c.tick([b]);
      a.store.mode = 'fail'; // a's database connection is gone; b's is fine
      clock.advance(RETRY);
      await c.tick();
      expect(c.leaders()).toEqual(['a']); // one failed renewal: 9 s of lease left, still certain
      while (!b.elector.isLeader && c.at() < 2 * TTL) {
        clock.advance(RETRY);
        await c.tick();
      }
      const deposedAt = Number(a.events[1].split('@')[1]);
      const electedAt = Number(b.events[0].split('@')[1]);
      // a's lease was last renewed at 0: a steps down once fewer than MARGIN ms of it are left, b takes it once expired.
      expect(deposedAt).toBeGreaterThanOrEqual(TTL - MARGIN - RETRY);
      expect(deposedAt).toBeLessThanOrEqual(TTL - MARGIN + RETRY);
      expect(electedAt).toBeGreaterThanOrEqual(TTL);
      expect(electedAt).toBeLessThanOrEqual(TTL + RETRY);
      expect(a.heldWhenDeposed).toEqual(['a']); // deposed while its lease still kept everyone else out
    });

    test('a renewal that hangs (a stalled database) does not keep the leader in place: the deadline deposes it, and the late renewal is handed back', async () => {
      const shared = await make();
      const c = cluster(shared, clock, ['a', 'b']);
      const [a, b] = c.replicas;
      await c.tick([a]);
      a.store.mode = 'hang';
      clock.advance(RETRY);
      void a.elector.tick(); // this renewal never answers
      // The timer keeps firing: the step in flight is not waited for, the deadline is checked.
      while (a.elector.isLeader && c.at() < TTL) {
        clock.advance(RETRY);
        void a.elector.tick();
        await c.tick([b]);
      }
      const deposedAt = Number(a.events[1].split('@')[1]);
      expect(deposedAt).toBeLessThanOrEqual(TTL - MARGIN + RETRY);
      expect(b.elector.isLeader).toBe(false); // a's lease, renewed at 0, still held b out
      // The database comes back: the hung renewal succeeds, and a, no longer leading, releases what it renewed.
      a.store.heal();
      await a.elector.tick();
      expect(await shared.holder('leader', clock.now())).toBeUndefined();
      clock.advance(RETRY);
      await c.tick([b]);
      expect(c.leaders()).toEqual(['b']);
      expect(c.at()).toBeLessThan(TTL); // b did not have to wait for a's lease to expire
    });

    test('a renewal answered "not yours" (the lease expired while we stalled and another replica took it) steps down at once', async () => {
      const shared = await make();
      const c = cluster(shared, clock, ['a', 'b']);
      const [a, b] = c.replicas;
      await c.tick([a]);
      // a stalls for longer than the ttl (its timer did not fire); b takes the expired lease.
      clock.advance(TTL);
      await c.tick([b]);
      expect(b.elector.isLeader).toBe(true);
      await c.tick([a]);
      expect(a.elector.isLeader).toBe(false);
      expect(c.leaders()).toEqual(['b']);
      expect(a.events).toEqual(['elected@0', `deposed@${TTL}`]);
    });
  });
}

electionSuite('the in-memory lease store', async () => new MemoryLeaseStore());
electionSuite('SQLite', async () => new SqlLeaseStore(sqliteDriverFor(openDatabase(':memory:'))));

let fresh: FreshSchema | undefined;
let pg: PgDriver | undefined;
afterAll(async () => {
  await pg?.close();
  await fresh?.drop();
});
electionSuite('PostgreSQL', async () => {
  fresh ??= await freshSchema();
  pg ??= await openPostgres(fresh.url, { schema: fresh.schema, poolSize: 4 });
  await pg.run('DELETE FROM leases');
  return new SqlLeaseStore(pg);
});

describe('LeaderElector timers (fake timers, wall clock)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  test('started replicas elect one; when its database hangs, it steps down and another is elected within ttl + one retry', async () => {
    const shared = new MemoryLeaseStore();
    const c = cluster(shared, systemClock, ['a', 'b', 'c']);
    for (const r of c.replicas) await r.elector.start();
    await jest.advanceTimersByTimeAsync(5 * RETRY);
    expect(c.leaders()).toHaveLength(1);
    const leader = c.replicas.find((r) => r.elector.isLeader)!;
    const lastRenewal = c.at() - ((c.at() - Number(leader.events[0].split('@')[1])) % RETRY);
    leader.store.mode = 'hang';
    for (let t = 0; t < TTL + 2 * RETRY && c.leaders().filter((n) => n !== leader.name).length === 0; t += 100) await jest.advanceTimersByTimeAsync(100);
    const next = c.replicas.find((r) => r.elector.isLeader)!;
    expect(next).toBeDefined();
    expect(next.name).not.toBe(leader.name);
    const deposedAt = Number(leader.events[1].split('@')[1]);
    const electedAt = Number(next.events[0].split('@')[1]);
    expect(deposedAt).toBeLessThan(lastRenewal + TTL);
    expect(electedAt).toBeGreaterThanOrEqual(lastRenewal + TTL);
    expect(electedAt).toBeLessThanOrEqual(lastRenewal + TTL + RETRY);
    leader.store.heal();
    for (const r of c.replicas) await r.elector.stop();
    expect(c.leaders()).toEqual([]);
  });
});
