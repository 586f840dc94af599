import type { LeaseOwner, LeaseStore } from '../../src/store/lease-types';

const owner = (id: string, pid = 100): LeaseOwner => ({ id, pid, host: 'host-a', purpose: 'serve' });
const at = (s: number) => new Date(Date.parse('2026-01-01T00:00:00Z') + s * 1000);

/** The behaviour every LeaseStore must share (STYLE habit 1). */
export function runLeaseStoreContract(name: string, make: () => LeaseStore | Promise<LeaseStore>): void {
  describe(`LeaseStore contract: ${name}`, () => {
    let s: LeaseStore;
    beforeEach(async () => {
      s = await make();
    });

    test('a free lease is taken; a second owner is refused and told who holds it', async () => {
      expect(await s.tryAcquire('service', owner('a'), 30_000, at(0))).toMatchObject({ ok: true, lease: { id: 'a', pid: 100, host: 'host-a', expiresAt: at(30).toISOString() } });
      const second = await s.tryAcquire('service', owner('b', 200), 30_000, at(1));
      expect(second).toEqual({ ok: false, holder: expect.objectContaining({ name: 'service', id: 'a', pid: 100, host: 'host-a', purpose: 'serve', acquiredAt: at(0).toISOString() }) });
      expect((await s.holder('service', at(1)))?.id).toBe('a');
    });

    test('leases are independent by name', async () => {
      expect((await s.tryAcquire('service', owner('a'), 30_000, at(0))).ok).toBe(true);
      expect((await s.tryAcquire('reconcile', owner('b'), 30_000, at(0))).ok).toBe(true);
    });

    test('the holder may take it again, keeping acquiredAt', async () => {
      await s.tryAcquire('reconcile', owner('a'), 30_000, at(0));
      expect(await s.tryAcquire('reconcile', owner('a'), 30_000, at(10))).toMatchObject({ ok: true, lease: { acquiredAt: at(0).toISOString(), expiresAt: at(40).toISOString() } });
    });

    test('a lease that is not renewed expires, and another owner takes it', async () => {
      await s.tryAcquire('service', owner('a'), 30_000, at(0));
      expect((await s.tryAcquire('service', owner('b'), 30_000, at(29))).ok).toBe(false);
      expect(await s.holder('service', at(30))).toBeUndefined();
      expect(await s.tryAcquire('service', owner('b'), 30_000, at(30))).toMatchObject({ ok: true, lease: { id: 'b' } });
      expect(await s.renew('service', 'a', 30_000, at(31))).toBe(false);
    });

    test('renewal keeps it; release frees it; release by another owner is a no-op', async () => {
      await s.tryAcquire('service', owner('a'), 30_000, at(0));
      expect(await s.renew('service', 'a', 30_000, at(20))).toBe(true);
      expect((await s.tryAcquire('service', owner('b'), 30_000, at(45))).ok).toBe(false);
      await s.release('service', 'b');
      expect((await s.holder('service', at(45)))?.id).toBe('a');
      await s.release('service', 'a');
      expect(await s.holder('service', at(45))).toBeUndefined();
      expect((await s.tryAcquire('service', owner('b'), 30_000, at(46))).ok).toBe(true);
    });

    test('a holder known to be dead is replaced before its ttl runs out', async () => {
      await s.tryAcquire('reconcile', owner('a', 100), 30_000, at(0));
      expect((await s.tryAcquire('reconcile', owner('b', 200), 30_000, at(1), (h) => h.pid === 999)).ok).toBe(false);
      expect(await s.tryAcquire('reconcile', owner('b', 200), 30_000, at(1), (h) => h.pid === 100)).toMatchObject({ ok: true, lease: { id: 'b' } });
    });

    test('of several owners racing for a free (or expired) lease, exactly one wins', async () => {
      for (const start of [0, 60]) {
        const racers = Array.from({ length: 8 }, (_, i) => owner(`r${start}-${i}`, 300 + i));
        const results = await Promise.all(racers.map((o) => s.tryAcquire('leader', o, 30_000, at(start))));
        const winners = results.filter((r) => r.ok);
        expect(winners).toHaveLength(1);
        const id = winners[0].ok ? winners[0].lease.id : '';
        expect(results.filter((r) => !r.ok).every((r) => !r.ok && r.holder.id === id)).toBe(true);
        expect((await s.holder('leader', at(start)))?.id).toBe(id);
      }
    });
  });
}
