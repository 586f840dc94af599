/**
 * The PostgreSQL ChangeFeed: one dedicated connection (outside the pool: a LISTEN belongs to its session) that
 * LISTENs on the schema's channel. Every journal row notifies it with its seq (the trigger of migration 2), at
 * COMMIT, from whichever replica wrote it. The connection opens with the first subscriber and closes with the
 * last, so only the replica that reconciles holds one. When it is lost (the server restarted, a network cut
 * noticed by TCP keep-alive) it reconnects with backoff, and after each (re)connect tells its subscribers to read
 * the journal: notifications sent meanwhile are gone for good (PostgreSQL queues them only for listening sessions).
 */
import pg from 'pg';
import type { Logger } from '../../logger';
import { emitAll, type ChangeFeed } from '../change-feed';
import { checkSchemaName, type PgTarget } from './pg-connection';

/** Schema-name characters kept in the channel: with "_changes" a channel stays within PostgreSQL's 63. */
const CHANNEL_PREFIX = 55;

/** The channel the journal trigger notifies: left(schema, 55) || '_changes' (the same expression in the migration). */
export function changeChannel(schema: string): string {
  checkSchemaName(schema);
  return `${schema.slice(0, CHANNEL_PREFIX)}_changes`;
}

export interface PgChangeFeedOptions {
  logger?: Logger;
  /** First reconnect delay; doubles up to maxBackoffMs. Defaults 250 ms and 5 s. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class PgChangeFeed implements ChangeFeed {
  readonly channel: string;
  private readonly listeners = new Set<(seq?: number) => void>();
  /** The connection being opened or in use; a client that is not this one is an old one, ignored. */
  private client: pg.Client | null = null;
  private listening = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private backoff: number;
  private closed = false;
  /** A LISTEN was in place before: the next one is a reconnect (logged). */
  private listenedBefore = false;

  constructor(
    private readonly target: PgTarget,
    schema: string,
    private readonly opts: PgChangeFeedOptions = {},
  ) {
    this.channel = changeChannel(schema);
    this.backoff = opts.minBackoffMs ?? 250;
  }

  /** True while the LISTEN is in place (for tests and status). */
  get connected(): boolean {
    return this.listening;
  }

  subscribe(onChange: (seq?: number) => void): () => void {
    this.listeners.add(onChange);
    if (this.listeners.size === 1) this.open();
    return () => {
      if (this.listeners.delete(onChange) && this.listeners.size === 0) void this.drop();
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    await this.drop();
  }

  private open(): void {
    if (this.closed || this.client || this.retryTimer || this.listeners.size === 0) return;
    const client = new pg.Client({
      connectionString: this.target.connectionString,
      options: this.target.urlOptions,
      application_name: 'airflow-scim-sync changes',
      connectionTimeoutMillis: 10_000,
      // A peer that vanished without a reset (a cut network) is noticed by keep-alive, not by silence.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    this.client = client;
    client.on('notification', (m) => {
      if (client === this.client && m.channel === this.channel) emitAll(this.listeners, parseSeq(m.payload));
    });
    client.on('error', (e) => this.lost(client, e));
    client.on('end', () => this.lost(client, new Error('the connection ended')));
    void (async () => {
      try {
        await client.connect();
        await client.query(`LISTEN "${this.channel}"`);
      } catch (e) {
        this.lost(client, e as Error);
        return;
      }
      if (client !== this.client) return;
      this.listening = true;
      this.backoff = this.opts.minBackoffMs ?? 250;
      if (this.listenedBefore) this.opts.logger?.info('listening for changes again', { channel: this.channel });
      this.listenedBefore = true;
      emitAll(this.listeners); // what was committed while nobody listened: read the journal
    })();
  }

  /** The connection failed or ended: forget it and, while anyone listens, try again after the backoff. */
  private lost(client: pg.Client, e: Error): void {
    if (client !== this.client) return;
    this.client = null;
    this.listening = false;
    client.end().catch(() => undefined);
    if (this.closed || this.listeners.size === 0) return;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs ?? 5000);
    this.opts.logger?.warn('lost the connection that listens for changes; the journal poll covers until it is back', { channel: this.channel, error: e.message, retryInMs: delay });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.open();
    }, delay);
    this.retryTimer.unref();
  }

  private async drop(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    this.listening = false;
    await client?.end().catch(() => undefined);
  }
}

function parseSeq(payload: string | undefined): number | undefined {
  const n = Number(payload);
  return payload && Number.isSafeInteger(n) ? n : undefined;
}
