import type { AuditEntry, AuditLog, AuditQuery } from '../audit-types';
import { dialects } from './dialect';
import type { SqlDriver, SqlExecutor } from './driver';

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

const INSERT = `INSERT INTO audit (at, source, actor, client_ip, method, path, request_id, resource_type, resource_id,
  subject, action, outcome, status, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** The audit trail in the `audit` table; detail stored as JSON. The identity store writes its rows inside its own transaction. */
export class SqlAuditLog implements AuditLog {
  constructor(private readonly db: SqlDriver) {}

  /** Writes one entry with tx: inside the caller's transaction, so a SCIM write and its audit row commit together. */
  static async recordIn(tx: SqlExecutor, e: AuditEntry): Promise<void> {
    await tx.run(INSERT, [
      e.at,
      e.source,
      e.actor,
      e.clientIp ?? null,
      e.method ?? null,
      e.path ?? null,
      e.requestId ?? null,
      e.resourceType ?? null,
      e.resourceId ?? null,
      e.subject ?? null,
      e.action,
      e.outcome,
      e.status ?? null,
      e.detail === undefined ? null : JSON.stringify(e.detail),
    ]);
  }

  record(e: AuditEntry): Promise<void> {
    return SqlAuditLog.recordIn(this.db, e);
  }

  /** Oldest first; limit keeps the newest matching entries. subject matches ignoring ASCII case. */
  async query(q: AuditQuery): Promise<AuditEntry[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.since) {
      where.push('at >= ?');
      params.push(q.since.toISOString());
    }
    if (q.subject !== undefined) {
      where.push(dialects[this.db.dialect].ciEq('subject'));
      params.push(q.subject);
    }
    if (q.source) {
      where.push('source = ?');
      params.push(q.source);
    }
    const sql = `SELECT * FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id ${q.limit !== undefined ? 'DESC LIMIT ?' : ''}`;
    if (q.limit !== undefined) params.push(q.limit);
    const rows = await this.db.all<Row>(sql, params);
    return (q.limit !== undefined ? rows.reverse() : rows).map(toEntry);
  }
}

function toEntry(r: Row): AuditEntry {
  const e: AuditEntry = { id: Number(r.id), at: r.at, source: r.source, actor: r.actor, action: r.action, outcome: r.outcome };
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
