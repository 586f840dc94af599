import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../../src/logger';
import { blockText, WebhookNotifier } from '../../src/server/notify';

/** A local webhook that answers the given statuses in turn and records each body. */
async function hook(statuses: number[]) {
  const bodies: unknown[] = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => (raw += d));
    req.on('end', () => {
      bodies.push(JSON.parse(raw));
      res.writeHead(statuses.shift() ?? 200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, bodies, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test('posts {"text"} (Slack and Teams accept it), retries 5xx with back-off, gives up quietly, keeps order', async () => {
  const h = await hook([500, 503, 200, 400]);
  const delays: number[] = [];
  const n = new WebhookNotifier({ url: h.url, timeoutMs: 2000, retries: 3, logger: silentLogger(), baseDelayMs: 10, sleep: async (ms) => void delays.push(ms) });
  try {
    n.notify({ kind: 'blocked', reason: '3 deprovision(s) held', held: ['u1', 'u2', 'u3'] });
    n.notify({ kind: 'released' });
    await n.idle();
    expect(h.bodies).toEqual([
      { text: blockText({ kind: 'blocked', reason: '3 deprovision(s) held', held: ['u1', 'u2', 'u3'] }) },
      { text: expect.stringContaining('held by the safety limits (u1, u2, u3)') },
      { text: expect.stringContaining('held by the safety limits') },
      { text: expect.stringContaining('released') }, // 400: not retried, logged
    ]);
    expect(delays).toEqual([10, 20]);
  } finally {
    await h.close();
  }
});

test('an unreachable webhook never throws: the message is given up after the retries', async () => {
  const n = new WebhookNotifier({ url: 'http://127.0.0.1:1/none', timeoutMs: 500, retries: 1, logger: silentLogger(), sleep: async () => undefined });
  n.notify({ kind: 'released' });
  await expect(n.idle()).resolves.toBeUndefined();
});
