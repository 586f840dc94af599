import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../../src/core/clock';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import { HeldLease } from '../../src/server/process-lease';
import { openDatabase } from '../../src/store/database';
import { SqlIdentityStore } from '../../src/store/sql/identity';
import { SqlLeaseStore } from '../../src/store/sql/leases';
import { CLI } from '../support/dist';
import { freePort, runCli, startServe, tempDir } from '../support/processes';
import { sqliteDriverFor } from '../../src/store/sql/sqlite-driver';

const ctx = { actor: 'test' };

/** A database with `n` active users in one mapped group, and a config that maps it. */
async function seed(dir: string, n: number): Promise<{ db: string; cfg: string }> {
  const db = path.join(dir, 'scim.db');
  const cfg = path.join(dir, 'config.yaml');
  fs.writeFileSync(cfg, ['roles:', '  mappings:', '    - group: eng', '      roles: [User]'].join('\n'));
  const handle = openDatabase(db);
  try {
    const s = new SqlIdentityStore(sqliteDriverFor(handle));
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push((await s.createUser({ userName: `u${i}@example.com`, active: true, name: { givenName: 'U', familyName: String(i) }, emails: [{ value: `u${i}@example.com`, primary: true }] }, ctx)).id);
    await s.createGroup({ displayName: 'eng' }, ids, ctx);
  } finally {
    handle.close();
  }
  return { db, cfg };
}

/** The pid of a process that has exited (on this host). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

function writeLease(dbPath: string, row: { pid: number; host: string; expiresInMs: number; name?: string }) {
  const db = openDatabase(dbPath);
  try {
    db.prepare('INSERT OR REPLACE INTO leases (name, holder_id, pid, host, purpose, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      row.name ?? 'reconcile',
      'crashed-holder',
      row.pid,
      row.host,
      'reconcile (cli)',
      new Date().toISOString(),
      new Date(Date.now() + row.expiresInMs).toISOString(),
    );
  } finally {
    db.close();
  }
}

const creates = (fake: FakeAirflow) => fake.faults.log.filter((e) => e.method === 'POST' && /\/users$/.test(e.url.split('?')[0]));
const conflicts = (fake: FakeAirflow) => fake.faults.log.filter((e) => e.status === 409);

describe('one writer per database', () => {
  let fake: FakeAirflow;
  beforeEach(async () => {
    fake = await startFakeAirflow({ version: 3 });
  });
  afterEach(() => fake.close());

  const envFor = (s: { db: string; cfg: string }) => ({ DATABASE_PATH: s.db, AIRFLOW_SCIM_CONFIG: s.cfg, AIRFLOW_URL: fake.url, AIRFLOW_API_VERSION: '3', AIRFLOW_USERNAME: 'admin', AIRFLOW_PASSWORD: 'admin' });

  it('a second serve on the same database exits 1 naming the holder pid, host and the database path', async () => {
    const s = await seed(tempDir('lease-serve-'), 0);
    const first = await startServe({ DATABASE_PATH: s.db });
    try {
      const port = await freePort();
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [CLI, 'serve'], { env: { ...process.env, DATABASE_PATH: s.db, HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: '0' }, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code, stderr }));
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`pid ${first.child.pid}`);
      expect(r.stderr).toContain(`host ${os.hostname()}`);
      expect(r.stderr).toContain(s.db);
    } finally {
      first.child.kill('SIGKILL');
      await first.exited;
    }
    // The holder crashed (SIGKILL): its lease does not keep the next serve out.
    const next = await startServe({ DATABASE_PATH: s.db });
    next.child.kill('SIGTERM');
    expect(await next.exited).toBe(0);
  });

  it('serve on another host\'s lease: refused while it is renewed, started once a stale one expires', async () => {
    const s = await seed(tempDir('lease-stale-'), 0);
    // Renewed moments ago (29 of 30 s left): a live holder, refused at once.
    writeLease(s.db, { name: 'service', pid: 7, host: 'old-pod', expiresInMs: 29_000 });
    const port = await freePort();
    const refused = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'serve'], { env: { ...process.env, DATABASE_PATH: s.db, HOST: '127.0.0.1', PORT: String(port), METRICS_PORT: '0' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('close', (code) => resolve({ code, stderr }));
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/pid 7 on host old-pod/);
    // Missed its renewals (6 s left, well under 2/3 of the 30 s ttl): a crashed pod; the new serve waits it out and
    // starts. (2 s left was flaky on a loaded machine: the lease could expire before serve had even started.)
    writeLease(s.db, { name: 'service', pid: 7, host: 'old-pod', expiresInMs: 6_000 });
    const next = await startServe({ DATABASE_PATH: s.db, LOG_LEVEL: 'warn' });
    try {
      expect(next.stderr()).toMatch(/stopped renewing it; waiting for it to expire/);
    } finally {
      next.child.kill('SIGTERM'); // also when the expectation fails: a failed test leaves no serve running
    }
    expect(await next.exited).toBe(0);
  });

  it('a serve whose lease was taken over (it stalled past the ttl) stops with exit 1 instead of writing beside the new holder', async () => {
    const s = await seed(tempDir('lease-lost-'), 0);
    const svc = await startServe({ DATABASE_PATH: s.db });
    const db = openDatabase(s.db);
    try {
      db.prepare("UPDATE leases SET holder_id = 'usurper', pid = 7, host = 'other-pod' WHERE name = 'service'").run();
    } finally {
      db.close();
    }
    // The next renewal (every 10 s) finds the lease gone.
    expect(await svc.exited).toBe(1);
    expect(svc.stderr()).toMatch(/lost the service lease/);
  }, 30_000);

  it('two CLI reconciles started together: one waits for the other, no duplicate create, no conflict', async () => {
    const s = await seed(tempDir('lease-two-cli-'), 120);
    fake.faults.latencyMs = 2;
    const [a, b] = await Promise.all([runCli(['reconcile', '--json'], envFor(s)), runCli(['reconcile', '--json'], envFor(s))]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const results = [JSON.parse(a.stdout).result, JSON.parse(b.stdout).result].sort();
    expect(results).toEqual(['applied', 'nothing-to-do']);
    expect(creates(fake)).toHaveLength(120);
    expect(conflicts(fake)).toEqual([]);
  });

  it('serve and a CLI reconcile beside it: no duplicate create, no conflict', async () => {
    const s = await seed(tempDir('lease-serve-cli-'), 120);
    fake.faults.latencyMs = 2;
    const svc = await startServe(envFor(s));
    try {
      const r = await runCli(['reconcile', '--json'], envFor(s));
      expect(r.code).toBe(0);
      expect(['applied', 'nothing-to-do']).toContain(JSON.parse(r.stdout).result);
      expect(creates(fake)).toHaveLength(120);
      expect(conflicts(fake)).toEqual([]);
    } finally {
      svc.child.kill('SIGTERM');
      await svc.exited;
    }
  });

  it('a CLI reconcile is refused by a run in progress (--wait 0) and waits for it otherwise', async () => {
    const s = await seed(tempDir('lease-wait-'), 3);
    const db = openDatabase(s.db);
    const held = await HeldLease.acquire('reconcile', 'reconcile (test)', { store: new SqlLeaseStore(sqliteDriverFor(db)), clock: systemClock, database: s.db });
    try {
      const refused = await runCli(['reconcile', '--wait', '0'], envFor(s));
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/a reconcile run is in progress/);
      expect(refused.stderr).toContain(`pid ${process.pid}`);
      expect(refused.stderr).toContain(s.db);
      expect(creates(fake)).toHaveLength(0);

      // Released once the waiting CLI says that it waits (event-driven, no sleep).
      const child = spawn(process.execPath, [CLI, 'reconcile', '--wait', '1m'], { env: { ...process.env, LOG_LEVEL: 'warn', ...envFor(s) }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stdout.on('data', () => undefined);
      const waiting = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
      await new Promise<void>((resolve) =>
        child.stderr.on('data', (d) => {
          stderr += d;
          if (/waiting for the reconcile run in progress/.test(stderr)) resolve();
        }),
      );
      expect(creates(fake)).toHaveLength(0);
      await held.release();
      const done = await waiting;
      expect(done.code).toBe(0);
      expect(done.stderr).toMatch(/waiting for the reconcile run in progress/);
      expect(creates(fake)).toHaveLength(3);
    } finally {
      await held.release();
      db.close();
    }
  });

  it('a lease left by a crashed holder does not block: dead pid on this host, or expired elsewhere', async () => {
    const s = await seed(tempDir('lease-crash-'), 2);
    writeLease(s.db, { pid: await deadPid(), host: os.hostname(), expiresInMs: 60_000 });
    expect((await runCli(['reconcile', '--wait', '0'], envFor(s))).code).toBe(0);
    writeLease(s.db, { pid: 1, host: 'some-other-pod', expiresInMs: -1 });
    expect((await runCli(['reconcile', '--wait', '0'], envFor(s))).code).toBe(0);
    writeLease(s.db, { pid: 1, host: 'some-other-pod', expiresInMs: 60_000 });
    const r = await runCli(['reconcile', '--wait', '0'], envFor(s));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/pid 1 on host some-other-pod/);
  });
});
