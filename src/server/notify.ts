/**
 * Webhook notifications when the safety limits hold changes back and when the block is released (issue 12).
 * The body is {"text": …}, which Slack and Microsoft Teams incoming webhooks both accept. Delivery is retried with
 * exponential back-off in the background; a failure is logged and never blocks or fails a reconcile run.
 */
import axios from 'axios';
import type { Logger } from '../logger';
import type { BlockEvent } from '../reconcile/reconciler';

export interface WebhookOptions {
  url: string;
  timeoutMs: number;
  retries: number;
  logger: Logger;
  /** Injected in tests. */
  sleep?: (ms: number) => Promise<void>;
  baseDelayMs?: number;
}

export function blockText(e: BlockEvent): string {
  return e.kind === 'blocked'
    ? `airflow-scim-sync: ${e.held.length} change(s) held by the safety limits (${e.held.join(', ')}). ${e.reason}`
    : 'airflow-scim-sync: the held changes were released; reconciling goes on as usual';
}

export class WebhookNotifier {
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly opts: WebhookOptions) {}

  /** Queues one message; returns at once (deliveries go one after another, in order). */
  notify(e: BlockEvent): void {
    this.pending = this.pending.then(() => this.deliver({ text: blockText(e) }));
  }

  /** Resolves when every queued message was delivered or given up (tests, shutdown). */
  idle(): Promise<void> {
    return this.pending;
  }

  private async deliver(body: { text: string }): Promise<void> {
    const { url, timeoutMs, retries, logger } = this.opts;
    const sleep = this.opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await axios.post(url, body, { timeout: timeoutMs, proxy: false, validateStatus: () => true });
        if (res.status >= 200 && res.status < 300) return;
        if (res.status < 500 && res.status !== 429) throw new Error(`webhook answered ${res.status}`);
        if (attempt >= retries) throw new Error(`webhook answered ${res.status} after ${attempt + 1} attempts`);
      } catch (e) {
        if (attempt >= retries || /answered 4/.test((e as Error).message)) {
          logger.warn('webhook notification failed', { component: 'notify', error: (e as Error).message });
          return;
        }
      }
      await sleep((this.opts.baseDelayMs ?? 1000) * 2 ** attempt);
    }
  }
}
