import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { CLI } from '../support/dist';
import { freePort, startServe, tempDir } from '../support/processes';

/** An "Airflow" that accepts connections and never answers. */
async function blackHole(): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Raw HTTP/1.1 GET on an existing socket; resolves with the status line. */
function getOn(socket: net.Socket, host: string, pathName: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      const m = /content-length: (\d+)/i.exec(buf);
      if (end >= 0 && m && buf.length >= end + 4 + Number(m[1])) {
        socket.off('data', onData);
        resolve(buf.split('\r\n')[0]);
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('connection closed by the server')));
    socket.write(`GET ${pathName} HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive\r\n\r\n`);
  });
}

describe('serve: probes, connections, listen errors', () => {
  it('/readyz answers at once from the background check when Airflow accepts connections and never answers', async () => {
    const hole = await blackHole();
    const dir = tempDir('readyz-');
    fs.writeFileSync(path.join(dir, 'config.yaml'), 'server:\n  shutdownTimeout: 1s\n');
    const svc = await startServe({ AIRFLOW_SCIM_CONFIG: path.join(dir, 'config.yaml'), DATABASE_PATH: path.join(dir, 'scim.db'), AIRFLOW_URL: hole.url, AIRFLOW_API_VERSION: '3', AIRFLOW_USERNAME: 'admin', AIRFLOW_PASSWORD: 'admin' });
    try {
      // The client's timeout and retries take far longer than this request's own 2 s abort.
      const r = await fetch(`${svc.base}/readyz`, { signal: AbortSignal.timeout(2_000) });
      expect(r.status).toBe(200);
      const body = (await r.json()) as { status: string; checks: Record<string, { ok: boolean; detail?: string }> };
      expect(body.status).toBe('ready');
      expect(body.checks.airflow.detail).toMatch(/not checked yet|checking|unreachable|timeout/i);
    } finally {
      svc.child.kill('SIGTERM');
      await svc.exited;
      await hole.close();
    }
  });

  it('keeps an idle keep-alive connection open for 10 s and answers a request on it', async () => {
    const dir = tempDir('keepalive-');
    const svc = await startServe({ DATABASE_PATH: path.join(dir, 'scim.db') });
    const socket = net.connect(svc.port, '127.0.0.1');
    try {
      await new Promise<void>((r) => socket.once('connect', () => r()));
      expect(await getOn(socket, `127.0.0.1:${svc.port}`, '/healthz')).toBe('HTTP/1.1 200 OK');
      // Idle for 10 s (Node's default keep-alive of 5 s closed the socket here), then reuse it.
      await new Promise((r) => setTimeout(r, 10_000));
      expect(socket.destroyed).toBe(false);
      expect(await getOn(socket, `127.0.0.1:${svc.port}`, '/healthz')).toBe('HTTP/1.1 200 OK');
    } finally {
      socket.destroy();
      svc.child.kill('SIGTERM');
      await svc.exited;
    }
  }, 30_000);

  it('a busy PORT fails at start naming the port and the variable', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const { port } = busy.address() as net.AddressInfo;
    try {
      const dir = tempDir('busy-');
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'serve'], {
          env: { ...process.env, LOG_LEVEL: 'warn', DATABASE_PATH: path.join(dir, 'scim.db'), HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: '0' },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code, stderr }));
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`port ${port} on 127.0.0.1 is already in use (set by PORT)`);
      expect(r.stderr).not.toMatch(/Cannot read properties/);
      // The lease was released: the next serve on that database starts.
      const next = await startServe({ DATABASE_PATH: path.join(dir, 'scim.db'), METRICS_PORT: String(await freePort()) });
      next.child.kill('SIGTERM');
      expect(await next.exited).toBe(0);
    } finally {
      busy.close();
    }
  });
});
