import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../src/store/database';
import { SqlIdentityStore } from '../../src/store/sql/identity';
import { CLI, requireDist } from './dist';
import { freePort } from './free-port';
import { sqliteDriverFor } from '../../src/store/sql/sqlite-driver';

export { freePort };

/** Writes SCIM state straight into the database file the CLI will open. */
export async function withStore<T>(dbPath: string, fn: (s: SqlIdentityStore) => Promise<T>): Promise<T> {
  const db = openDatabase(dbPath);
  try {
    return await fn(new SqlIdentityStore(sqliteDriverFor(db)));
  } finally {
    db.close();
  }
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Runs the compiled CLI to completion (asynchronously: an in-process fake Airflow must keep answering). */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  requireDist('src/cli/main.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Served {
  child: ChildProcess;
  port: number;
  metricsPort: number;
  base: string;
  stderr: () => string;
  exited: Promise<number | null>;
}

let ownHostnames: boolean | undefined;

/**
 * Whether a child can be given a host name of its own (`unshare --uts`: root, or unprivileged user namespaces):
 * then replicas on this machine look like pods on different nodes, and a dead one is told only by its lease's ttl.
 */
export function canUseOwnHostname(): boolean {
  ownHostnames ??= spawnSync('unshare', ['--uts', 'sh', '-c', 'hostname replica-probe'], { stdio: 'ignore' }).status === 0;
  return ownHostnames;
}

/**
 * Starts `airflow-scim serve` and waits for /healthz. With opts.hostname (see canUseOwnHostname) the process runs in
 * a UTS namespace of its own under that host name; its pid is still the node process's (unshare and sh exec it).
 */
export async function startServe(env: Record<string, string>, opts: { hostname?: string } = {}): Promise<Served> {
  requireDist('src/cli/main.js');
  const port = await freePort();
  const metricsPort = await freePort();
  const [cmd, args] = opts.hostname
    ? ['unshare', ['--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', opts.hostname, process.execPath, CLI, 'serve']]
    : [process.execPath, [CLI, 'serve']];
  const child = spawn(cmd, args, {
    env: { ...process.env, LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: String(metricsPort), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.on('data', () => undefined);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const base = `http://127.0.0.1:${port}`;
  const until = Date.now() + 20_000;
  for (;;) {
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null) throw new Error(`serve exited with ${child.exitCode}: ${err}`);
    if (Date.now() > until) {
      child.kill('SIGKILL'); // never left running behind a failed test
      throw new Error(`serve did not answer /healthz within 20 s: ${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port, metricsPort, base, stderr: () => err, exited };
}
