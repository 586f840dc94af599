/**
 * "Something was committed to the change journal": a wake-up for the reconcile loop, from any process on the
 * database. SQLite: LocalChangeFeed, in this process only (after each journal transaction commits). PostgreSQL:
 * pg-change-feed.ts, LISTEN on the channel that the journal's trigger notifies (pg-migrations.ts, version 2).
 *
 * A hint, never a source of truth (external-dns controller.go: an event only makes the next run come sooner):
 * it may fire without a new change (a lease transaction, a reconnect) and may miss one (a notification sent while
 * the LISTEN connection was down, a write by another SQLite process), so its user still polls the journal.
 */
export interface ChangeFeed {
  /**
   * Calls onChange after changes committed from now on: with the journal seq when the feed knows it, without one
   * when the caller should read the journal itself (a reconnect: changes may have been missed). Returns the
   * function that unsubscribes.
   */
  subscribe(onChange: (seq?: number) => void): () => void;
  close(): Promise<void>;
}

/** The in-process feed: the driver calls emit() after a journal transaction commits. */
export class LocalChangeFeed implements ChangeFeed {
  private readonly listeners = new Set<(seq?: number) => void>();

  subscribe(onChange: (seq?: number) => void): () => void {
    this.listeners.add(onChange);
    return () => void this.listeners.delete(onChange);
  }

  emit(seq?: number): void {
    emitAll(this.listeners, seq);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

/** One listener's throw never keeps the others from hearing. */
export function emitAll(listeners: Iterable<(seq?: number) => void>, seq?: number): void {
  for (const l of [...listeners]) {
    try {
      l(seq);
    } catch {
      /* a wake-up is a hint: the poll covers a listener that failed */
    }
  }
}
