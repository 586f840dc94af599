import { isFailedResult, runOrigin, type DeprovisionKind, type LastRunQuery, type OwnershipRecord, type ReconcileState, type StoredRun } from './reconcile-state';

/** In-memory ReconcileState for tests and dry tooling; same contract as SqlReconcileState. */
export class MemoryReconcileState<R extends StoredRun = StoredRun> implements ReconcileState<R> {
  private readonly ownership = new Map<string, OwnershipRecord>();
  private readonly events: Array<{ at: string; username: string; kind: DeprovisionKind }> = [];
  private readonly runs: R[] = [];
  private readonly kv = new Map<string, string>();

  async owned(): Promise<OwnershipRecord[]> {
    return [...this.ownership.values()].map((r) => ({ ...r })).sort((a, b) => (a.username.toLowerCase() < b.username.toLowerCase() ? -1 : 1));
  }

  async own(username: string, how: 'created' | 'adopted', scimUserId: string | null, at: Date, externalId?: string): Promise<void> {
    const key = username.toLowerCase();
    const current = this.ownership.get(key);
    const ext = externalId !== undefined ? { externalId } : {};
    this.ownership.set(key, current ? { ...current, scimUserId, ...ext } : { username, how, scimUserId, ...ext, since: at.toISOString() });
  }

  async disown(username: string): Promise<void> {
    this.ownership.delete(username.toLowerCase());
  }

  async recordDeprovision(username: string, kind: DeprovisionKind, at: Date): Promise<void> {
    this.events.push({ at: at.toISOString(), username, kind });
  }

  async countDeprovisionsSince(at: Date): Promise<number> {
    const from = at.toISOString();
    return this.events.filter((e) => e.at >= from).length;
  }

  async deprovisionedSince(at: Date): Promise<string[]> {
    const from = at.toISOString();
    return [...new Set(this.events.filter((e) => e.at >= from).map((e) => e.username.toLowerCase()))].sort();
  }

  async saveRun(report: R): Promise<number> {
    const id = this.runs.length + 1;
    this.runs.push(structuredClone({ ...report, id }));
    return id;
  }

  async lastRun(opts: LastRunQuery = {}): Promise<R | undefined> {
    for (let i = this.runs.length - 1; i >= 0; i--) {
      const r = this.runs[i];
      if ((opts.includeDryRun || !r.dryRun) && (!opts.origin || runOrigin(r) === opts.origin) && (!opts.ok || !isFailedResult(r.result))) return structuredClone(r);
    }
    return undefined;
  }

  async getKv(key: string): Promise<string | undefined> {
    return this.kv.get(key);
  }

  async setKv(key: string, value: string | null): Promise<void> {
    if (value === null) this.kv.delete(key);
    else this.kv.set(key, value);
  }
}
