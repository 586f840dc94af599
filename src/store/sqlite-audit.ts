import type Database from 'better-sqlite3';
import type { AuditEntry, AuditLog, AuditQuery } from './audit-types';
import type { Db } from './database';

interface Row {
  id: number;
  at: string;
  source: AuditEntry['source'];
  actor: string;
  client_ip: string | null;
  method: string | null;
  path: string | null;
  request_id: string | null;
  resource_type: string | null;
  resource_id: string | null;
  subject: string | null;
  action: string;
  outcome: AuditEntry['outcome'];
  status: number | null;
  detail: string | null;
}

/** The audit trail in the `audit` table; detail stored as JSON. Writes join the caller's transaction. */
export class SqliteAuditLog implements AuditLog {
  private readonly insert: Database.Statement;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(`INSERT INTO audit (at, source, actor, client_ip, method, path, request_id, resource_type,
      resource_id, subject, action, outcome, status, detail)
      VALUES (@at, @source, @actor, @client_ip, @method, @path, @request_id, @resource_type, @resource_id, @subject,
      @action, @outcome, @status, @detail)`);
  }

  /**
   * Not `async` on purpose: the insert runs, and a failure throws, synchronously, so that inside the identity store's
   * better-sqlite3 transaction a failed audit row rolls the write back. The caller still gets a promise.
   */
  record(e: AuditEntry): Promise<void> {
    this.insert.run({
      at: e.at,
      source: e.source,
      actor: e.actor,
      client_ip: e.clientIp ?? null,
      method: e.method ?? null,
      path: e.path ?? null,
      request_id: e.requestId ?? null,
      resource_type: e.resourceType ?? null,
      resource_id: e.resourceId ?? null,
      subject: e.subject ?? null,
      action: e.action,
      outcome: e.outcome,
      status: e.status ?? null,
      detail: e.detail === undefined ? null : JSON.stringify(e.detail),
    });
    return Promise.resolve();
  }

  /** Oldest first; limit keeps the newest matching entries. subject matches case-insensitively (NOCASE column). */
  async query(q: AuditQuery): Promise<AuditEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.since) {
      where.push('at >= ?');
      params.push(q.since.toISOString());
    }
    if (q.subject !== undefined) {
      where.push('subject = ?');
      params.push(q.subject);
    }
    if (q.source) {
      where.push('source = ?');
      params.push(q.source);
    }
    const sql = `SELECT * FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id ${q.limit !== undefined ? 'DESC LIMIT ?' : ''}`;
    if (q.limit !== undefined) params.push(q.limit);
    const rows = this.db.prepare(sql).all(...params) as Row[];
    return (q.limit !== undefined ? rows.reverse() : rows).map(toEntry);
  }
}

function toEntry(r: Row): AuditEntry {
  const e: AuditEntry = { id: r.id, at: r.at, source: r.source, actor: r.actor, action: r.action, outcome: r.outcome };
  if (r.client_ip !== null) e.clientIp = r.client_ip;
  if (r.method !== null) e.method = r.method;
  if (r.path !== null) e.path = r.path;
  if (r.request_id !== null) e.requestId = r.request_id;
  if (r.resource_type !== null) e.resourceType = r.resource_type;
  if (r.resource_id !== null) e.resourceId = r.resource_id;
  if (r.subject !== null) e.subject = r.subject;
  if (r.status !== null) e.status = r.status;
  if (r.detail !== null) e.detail = JSON.parse(r.detail) as Record<string, unknown>;
  return e;
}
