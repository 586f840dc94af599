import type { AcquireResult, LeaseName, LeaseOwner, LeaseRecord, LeaseStore } from '../lease-types';
import type { SqlDriver } from './driver';

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
  pid: Number(r.pid),
  host: r.host,
  purpose: r.purpose,
  acquiredAt: r.acquired_at,
  expiresAt: r.expires_at,
});

const SELECT = 'SELECT name, holder_id, pid, host, purpose, acquired_at, expires_at FROM leases WHERE name = ?';

/**
 * LeaseStore on the `leases` table. Acquire is an exclusive transaction (SQLite BEGIN IMMEDIATE, PostgreSQL the
 * journal's advisory lock), so of several processes racing for a free lease exactly one wins.
 */
export class SqlLeaseStore implements LeaseStore {
  constructor(private readonly db: SqlDriver) {}

  tryAcquire(name: LeaseName, owner: LeaseOwner, ttlMs: number, now: Date, isDead?: (h: LeaseRecord) => boolean): Promise<AcquireResult> {
    return this.db.transaction(
      async (tx): Promise<AcquireResult> => {
        const row = await tx.get<Row>(SELECT, [name]);
        const cur = row ? toRecord(row) : undefined;
        if (cur && cur.id !== owner.id && cur.expiresAt > now.toISOString() && !(isDead?.(cur) ?? false)) return { ok: false, holder: cur };
        const lease: LeaseRecord = {
          name,
          ...owner,
          acquiredAt: cur && cur.id === owner.id ? cur.acquiredAt : now.toISOString(),
          expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
        };
        await tx.run(
          `INSERT INTO leases (name, holder_id, pid, host, purpose, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET holder_id = excluded.holder_id, pid = excluded.pid, host = excluded.host,
             purpose = excluded.purpose, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
          [name, owner.id, owner.pid, owner.host, owner.purpose, lease.acquiredAt, lease.expiresAt],
        );
        return { ok: true, lease };
      },
      { journal: true },
    );
  }

  async renew(name: LeaseName, ownerId: string, ttlMs: number, now: Date): Promise<boolean> {
    const r = await this.db.run('UPDATE leases SET expires_at = ? WHERE name = ? AND holder_id = ?', [new Date(now.getTime() + ttlMs).toISOString(), name, ownerId]);
    return r.changes === 1;
  }

  async release(name: LeaseName, ownerId: string): Promise<void> {
    await this.db.run('DELETE FROM leases WHERE name = ? AND holder_id = ?', [name, ownerId]);
  }

  async holder(name: LeaseName, now: Date): Promise<LeaseRecord | undefined> {
    const row = await this.db.get<Row>(SELECT, [name]);
    return row && row.expires_at > now.toISOString() ? toRecord(row) : undefined;
  }
}
