import type { Db } from './database';
import type { AcquireResult, LeaseName, LeaseOwner, LeaseRecord, LeaseStore } from './lease-types';

interface Row {
  name: LeaseName;
  holder_id: string;
  pid: number;
  host: string;
  purpose: string;
  acquired_at: string;
  expires_at: string;
}

const toRecord = (r: Row): LeaseRecord => ({
  name: r.name,
  id: r.holder_id,
  pid: r.pid,
  host: r.host,
  purpose: r.purpose,
  acquiredAt: r.acquired_at,
  expiresAt: r.expires_at,
});

/** LeaseStore on the `leases` table (migration 3). Acquire runs in a BEGIN IMMEDIATE transaction: one winner. */
export class SqliteLeaseStore implements LeaseStore {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      get: db.prepare<[string], Row>('SELECT name, holder_id, pid, host, purpose, acquired_at, expires_at FROM leases WHERE name = ?'),
      put: db.prepare(
        `INSERT INTO leases (name, holder_id, pid, host, purpose, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder_id = excluded.holder_id, pid = excluded.pid, host = excluded.host,
           purpose = excluded.purpose, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
      ),
      renew: db.prepare('UPDATE leases SET expires_at = ? WHERE name = ? AND holder_id = ?'),
      release: db.prepare('DELETE FROM leases WHERE name = ? AND holder_id = ?'),
    };
  }

  async tryAcquire(name: LeaseName, owner: LeaseOwner, ttlMs: number, now: Date, isDead?: (h: LeaseRecord) => boolean): Promise<AcquireResult> {
    const tx = this.db.transaction((): AcquireResult => {
      const row = this.stmts.get.get(name);
      const cur = row ? toRecord(row) : undefined;
      if (cur && cur.id !== owner.id && cur.expiresAt > now.toISOString() && !(isDead?.(cur) ?? false)) return { ok: false, holder: cur };
      const lease: LeaseRecord = {
        name,
        ...owner,
        acquiredAt: cur && cur.id === owner.id ? cur.acquiredAt : now.toISOString(),
        expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
      };
      this.stmts.put.run(name, owner.id, owner.pid, owner.host, owner.purpose, lease.acquiredAt, lease.expiresAt);
      return { ok: true, lease };
    });
    return tx.immediate();
  }

  async renew(name: LeaseName, ownerId: string, ttlMs: number, now: Date): Promise<boolean> {
    return this.stmts.renew.run(new Date(now.getTime() + ttlMs).toISOString(), name, ownerId).changes === 1;
  }

  async release(name: LeaseName, ownerId: string): Promise<void> {
    this.stmts.release.run(name, ownerId);
  }

  async holder(name: LeaseName, now: Date): Promise<LeaseRecord | undefined> {
    const row = this.stmts.get.get(name);
    return row && row.expires_at > now.toISOString() ? toRecord(row) : undefined;
  }
}
