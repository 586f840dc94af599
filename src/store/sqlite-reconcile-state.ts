import type { Db } from './database';
import type { DeprovisionKind, LastRunQuery, OwnershipRecord, ReconcileState, StoredRun } from './reconcile-state';

interface OwnedRow {
  username: string;
  how: 'created' | 'adopted';
  scim_user_id: string | null;
  external_id: string | null;
  since: string;
}

/** ReconcileState on the tables of migration 2 (airflow_owned, deprovision_events, reconcile_runs, kv). */
export class SqliteReconcileState<R extends StoredRun = StoredRun> implements ReconcileState<R> {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      owned: db.prepare<[], OwnedRow>('SELECT username, how, scim_user_id, external_id, since FROM airflow_owned ORDER BY username COLLATE NOCASE'),
      own: db.prepare(
        `INSERT INTO airflow_owned (username, how, scim_user_id, external_id, since) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (username) DO UPDATE SET scim_user_id = excluded.scim_user_id,
           external_id = COALESCE(excluded.external_id, airflow_owned.external_id)`,
      ),
      disown: db.prepare('DELETE FROM airflow_owned WHERE username = ?'),
      event: db.prepare('INSERT INTO deprovision_events (at, username, kind) VALUES (?, ?, ?)'),
      countSince: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM deprovision_events WHERE at >= ?'),
      usersSince: db.prepare<[string], { u: string }>('SELECT DISTINCT lower(username) AS u FROM deprovision_events WHERE at >= ? ORDER BY u'),
      saveRun: db.prepare(
        'INSERT INTO reconcile_runs (started, finished, trigger, dry_run, result, seq, summary, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      // origin: 'cli' runs are exactly those with trigger 'cli' (reconcile-state.ts runOrigin), so old rows need no migration.
      lastRun: db.prepare<[{ dry: number; ok: number; origin: number }], { id: number; summary: string }>(
        `SELECT id, summary FROM reconcile_runs WHERE (dry_run = 0 OR @dry = 1)
           AND (@origin = 0 OR (@origin = 1 AND trigger <> 'cli') OR (@origin = 2 AND trigger = 'cli'))
           AND (@ok = 0 OR result NOT IN ('failed', 'partial')) ORDER BY id DESC LIMIT 1`,
      ),
      getKv: db.prepare<[string], { value: string }>('SELECT value FROM kv WHERE key = ?'),
      setKv: db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      deleteKv: db.prepare('DELETE FROM kv WHERE key = ?'),
    };
  }

  async owned(): Promise<OwnershipRecord[]> {
    return this.stmts.owned.all().map((r) => ({
      username: r.username,
      how: r.how,
      scimUserId: r.scim_user_id,
      ...(r.external_id !== null ? { externalId: r.external_id } : {}),
      since: r.since,
    }));
  }

  async own(username: string, how: 'created' | 'adopted', scimUserId: string | null, at: Date, externalId?: string): Promise<void> {
    this.stmts.own.run(username, how, scimUserId, externalId ?? null, at.toISOString());
  }

  async disown(username: string): Promise<void> {
    this.stmts.disown.run(username);
  }

  async recordDeprovision(username: string, kind: DeprovisionKind, at: Date): Promise<void> {
    this.stmts.event.run(at.toISOString(), username, kind);
  }

  async countDeprovisionsSince(at: Date): Promise<number> {
    return this.stmts.countSince.get(at.toISOString())?.n ?? 0;
  }

  async deprovisionedSince(at: Date): Promise<string[]> {
    return this.stmts.usersSince.all(at.toISOString()).map((r) => r.u);
  }

  /** The whole report is kept as JSON in `summary`; result, seq and error also get columns for SQL queries. */
  async saveRun(report: R): Promise<number> {
    const { id: _id, ...rest } = report;
    const info = this.stmts.saveRun.run(
      report.started,
      report.finished,
      report.trigger,
      report.dryRun ? 1 : 0,
      report.result,
      report.seq,
      JSON.stringify(rest),
      report.error ?? null,
    );
    return Number(info.lastInsertRowid);
  }

  async lastRun(opts: LastRunQuery = {}): Promise<R | undefined> {
    const row = this.stmts.lastRun.get({ dry: opts.includeDryRun ? 1 : 0, ok: opts.ok ? 1 : 0, origin: opts.origin === 'service' ? 1 : opts.origin === 'cli' ? 2 : 0 });
    return row ? { ...(JSON.parse(row.summary) as R), id: row.id } : undefined;
  }

  async getKv(key: string): Promise<string | undefined> {
    return this.stmts.getKv.get(key)?.value;
  }

  async setKv(key: string, value: string | null): Promise<void> {
    if (value === null) this.stmts.deleteKv.run(key);
    else this.stmts.setKv.run(key, value);
  }
}
