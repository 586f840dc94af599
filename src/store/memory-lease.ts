import type { AcquireResult, LeaseName, LeaseOwner, LeaseRecord, LeaseStore } from './lease-types';

/** In-memory LeaseStore; same contract as SqlLeaseStore (test/store/lease.contract.ts). */
export class MemoryLeaseStore implements LeaseStore {
  private readonly leases = new Map<LeaseName, LeaseRecord>();

  async tryAcquire(name: LeaseName, owner: LeaseOwner, ttlMs: number, now: Date, isDead?: (h: LeaseRecord) => boolean): Promise<AcquireResult> {
    const cur = this.leases.get(name);
    if (cur && cur.id !== owner.id && cur.expiresAt > now.toISOString() && !(isDead?.(cur) ?? false)) return { ok: false, holder: { ...cur } };
    const lease: LeaseRecord = {
      name,
      ...owner,
      acquiredAt: cur && cur.id === owner.id ? cur.acquiredAt : now.toISOString(),
      expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
    };
    this.leases.set(name, lease);
    return { ok: true, lease: { ...lease } };
  }

  async renew(name: LeaseName, ownerId: string, ttlMs: number, now: Date): Promise<boolean> {
    const cur = this.leases.get(name);
    if (!cur || cur.id !== ownerId) return false;
    cur.expiresAt = new Date(now.getTime() + ttlMs).toISOString();
    return true;
  }

  async release(name: LeaseName, ownerId: string): Promise<void> {
    if (this.leases.get(name)?.id === ownerId) this.leases.delete(name);
  }

  async holder(name: LeaseName, now: Date): Promise<LeaseRecord | undefined> {
    const cur = this.leases.get(name);
    return cur && cur.expiresAt > now.toISOString() ? { ...cur } : undefined;
  }
}
