import type { AuditEntry, AuditLog, AuditQuery } from './audit-types';

const fold = (s: string) => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/** In-memory audit trail with SqlAuditLog's behaviour (ids from 1, detail cloned as JSON). */
export class MemoryAuditLog implements AuditLog {
  private readonly entries: AuditEntry[] = [];

  async record(entry: AuditEntry): Promise<void> {
    const e = JSON.parse(JSON.stringify(entry)) as AuditEntry;
    delete e.id;
    this.entries.push({ id: this.entries.length + 1, ...e });
  }

  /** Oldest first; limit keeps the newest matching entries (still returned oldest first); subject compared with ASCII case folding (as NOCASE). */
  async query(q: AuditQuery): Promise<AuditEntry[]> {
    const since = q.since?.toISOString();
    const hits = this.entries.filter(
      (e) =>
        (since === undefined || e.at >= since) &&
        (q.subject === undefined || (e.subject !== undefined && fold(e.subject) === fold(q.subject))) &&
        (q.source === undefined || e.source === q.source),
    );
    return JSON.parse(JSON.stringify(q.limit === undefined ? hits : hits.slice(Math.max(0, hits.length - Math.max(0, q.limit))))) as AuditEntry[];
  }
}
