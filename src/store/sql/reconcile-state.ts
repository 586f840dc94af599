import { FAILED_RESULTS, type DeprovisionKind, type LastRunQuery, type OwnershipRecord, type ReconcileState, type StoredRun } from '../reconcile-state';
import { dialects, type SqlDialect } from './dialect';
import type { SqlDriver } from './driver';

interface OwnedRow {
  username: string;
  how: 'created' | 'adopted';
  scim_user_id: string | null;
  external_id: string | null;
  since: string;
}

/** ReconcileState on the tables airflow_owned, deprovision_events, reconcile_runs and kv. */
export class SqlReconcileState<R extends StoredRun = StoredRun> implements ReconcileState<R> {
  private readonly d: SqlDialect;

  constructor(private readonly db: SqlDriver) {
    this.d = dialects[db.dialect];
  }

  async owned(): Promise<OwnershipRecord[]> {
    const rows = await this.db.all<OwnedRow>(`SELECT username, how, scim_user_id, external_id, since FROM airflow_owned ORDER BY ${this.d.ciOrder('username')}`);
    return rows.map((r) => ({
      username: r.username,
      how: r.how,
      scimUserId: r.scim_user_id,
      ...(r.external_id !== null ? { externalId: r.external_id } : {}),
      since: r.since,
    }));
  }

  /**
   * Usernames are unique ignoring ASCII case (SQLite NOCASE primary key; PostgreSQL a unique index on nocase()).
   * One upsert statement, not a read then a write: two processes owning one name at once (PostgreSQL replicas,
   * whose transactions are not serialised as SQLite's are) must not meet a unique violation.
   */
  async own(username: string, how: 'created' | 'adopted', scimUserId: string | null, at: Date, externalId?: string): Promise<void> {
    await this.db.run(
      `INSERT INTO airflow_owned (username, how, scim_user_id, external_id, since) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT ${this.d.ciConflict('username')} DO UPDATE
         SET scim_user_id = excluded.scim_user_id, external_id = COALESCE(excluded.external_id, airflow_owned.external_id)`,
      [username, how, scimUserId, externalId ?? null, at.toISOString()],
    );
  }

  async disown(username: string): Promise<void> {
    await this.db.run(`DELETE FROM airflow_owned WHERE ${this.d.ciEq('username')}`, [username]);
  }

  async recordDeprovision(username: string, kind: DeprovisionKind, at: Date): Promise<void> {
    await this.db.run('INSERT INTO deprovision_events (at, username, kind) VALUES (?, ?, ?)', [at.toISOString(), username, kind]);
  }

  async countDeprovisionsSince(at: Date): Promise<number> {
    const r = await this.db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM deprovision_events WHERE at >= ?', [at.toISOString()]);
    return Number(r?.n ?? 0);
  }

  async deprovisionedSince(at: Date): Promise<string[]> {
    const rows = await this.db.all<{ u: string }>(`SELECT DISTINCT ${this.d.fold('username')} AS u FROM deprovision_events WHERE at >= ? ORDER BY u`, [at.toISOString()]);
    return rows.map((r) => r.u);
  }

  /** The whole report is kept as JSON in `summary`; result, seq and error also get columns for SQL queries. */
  async saveRun(report: R): Promise<number> {
    const { id: _id, ...rest } = report;
    const row = await this.db.get<{ id: number }>(
      'INSERT INTO reconcile_runs (started, finished, trigger, dry_run, result, seq, summary, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id',
      [report.started, report.finished, report.trigger, report.dryRun ? 1 : 0, report.result, report.seq, JSON.stringify(rest), report.error ?? null],
    );
    return Number(row!.id);
  }

  // origin: 'cli' runs are exactly those with trigger 'cli' (reconcile-state.ts runOrigin), so old rows need no migration.
  async lastRun(opts: LastRunQuery = {}): Promise<R | undefined> {
    const where = ['1 = 1'];
    if (!opts.includeDryRun) where.push('dry_run = 0');
    if (opts.origin === 'service') where.push("trigger <> 'cli'");
    if (opts.origin === 'cli') where.push("trigger = 'cli'");
    if (opts.ok) where.push(`result NOT IN (${FAILED_RESULTS.map((r) => `'${r}'`).join(', ')})`);
    const row = await this.db.get<{ id: number; summary: string }>(`SELECT id, summary FROM reconcile_runs WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT 1`);
    return row ? { ...(JSON.parse(row.summary) as R), id: Number(row.id) } : undefined;
  }

  async getKv(key: string): Promise<string | undefined> {
    return (await this.db.get<{ value: string }>('SELECT value FROM kv WHERE key = ?', [key]))?.value;
  }

  async setKv(key: string, value: string | null): Promise<void> {
    if (value === null) await this.db.run('DELETE FROM kv WHERE key = ?', [key]);
    else await this.db.run('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
  }
}
