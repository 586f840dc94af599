/**
 * SCIM API benchmark: 100,000 users, one 100,000-member group and one 10-member group in a SQLite file, the real
 * service (production composition root) in a child process, autocannon in this process. See bench/README.md.
 *
 *   npm run bench:scim              BENCH_SECONDS=10 BENCH_WARMUP_SECONDS=2 BENCH_CONNECTIONS=20
 *   BENCH_USERS=100000 BENCH_SPARES=40000 BENCH_STRICT=1 (exit 1 when a target fails) BENCH_KEEP=1 (keep the temp dir)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDatabase, type Db } from '../src/store/database';
import { SqlIdentityStore } from '../src/store/sql/identity';
import { ServerChild } from './lib/child';
import { bulkLoad, range, userData } from './lib/dataset';
import { durations, measure, type LoadFigures, type LoadSpec } from './lib/load';
import { exitCode, fmt, mb, percentile, table, verdicts, type Verdict } from './lib/report';
import type { ServerStats } from './scim-server';
import { sqliteDriverFor } from '../src/store/sql/sqlite-driver';

const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const SPARES = Number(process.env.BENCH_SPARES ?? 40_000);
const TOKEN = 'bench-token-' + 'x'.repeat(24);
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scim-bench-'));
  const dbFile = path.join(dir, 'bench.db');
  const { seconds, warmupSeconds, connections } = durations();
  console.log(`scim bench: ${USERS.toLocaleString()} users, ${SPARES.toLocaleString()} spares, ${warmupSeconds}s warm-up + ${seconds}s per run, ${connections} connections`);
  console.log(`machine: ${os.cpus().length} cores, node ${process.version}; server in a child process, autocannon in this one (they share the cores)`);
  console.log(`temp dir: ${dir}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);

  // 1. Load.
  let t = Date.now();
  const db = openDatabase(dbFile);
  const shape = await shapeCheckBefore(db);
  const loaded = bulkLoad(db, {
    users: USERS,
    spares: SPARES,
    groups: [
      { displayName: 'bench-big', members: range(USERS) },
      { displayName: 'bench-small', members: range(10) },
    ],
  });
  shapeCheckAfter(db, shape, loaded.userIds[0]);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  const [bigId, smallId] = loaded.groupIds;
  console.log(`loaded in ${((Date.now() - t) / 1000).toFixed(1)} s: ${fmt(fs.statSync(dbFile).size / 1048576)} MiB on disk\n`);

  // 2. The real service.
  t = Date.now();
  const real = await ServerChild.start(path.join(__dirname, 'scim-server.js'), { BENCH_SERVER_MODE: 'real', BENCH_DB: dbFile, BENCH_TOKEN: TOKEN }, path.join(dir, 'real.log'));
  const base = `http://127.0.0.1:${real.port}`;
  const auth = { authorization: `Bearer ${TOKEN}` };
  await sanity(base, auth, bigId);
  const startup = await real.ask<ServerStats>('stats');
  console.log(`service up in ${Date.now() - t} ms, rss ${fmt(mb(startup.rss))} MiB`);
  // The baseline server is up at the same time (idle while not measured) so that (e) runs right before (a):
  // other load on the machine then weighs on both alike.
  const bare = await ServerChild.start(path.join(__dirname, 'scim-server.js'), { BENCH_SERVER_MODE: 'bare', BENCH_USERS: String(USERS) }, path.join(dir, 'bare.log'));

  const common = { warmupSeconds, seconds, connections };
  const rand = () => Math.floor(Math.random() * USERS);
  const filterPath = (i: number) => `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "user${i}"`)}`;
  let posted = 0;
  const spareCursor = { big: 0, small: SPARES >> 1 };
  let spareWraps = 0;
  const patchBody = (which: 'big' | 'small') => {
    const half = SPARES >> 1;
    const start = which === 'big' ? 0 : half;
    let i = spareCursor[which]++;
    if (i >= start + half) {
      spareWraps++;
      i = start + ((i - start) % half);
    }
    return JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'add', path: 'members', value: [{ value: loaded.spareIds[i] }] }] });
  };
  const runId = Date.now().toString(36);
  const patchSpec = (title: string, groupId: string, which: 'big' | 'small'): LoadSpec => ({
    title,
    url: base,
    method: 'PATCH',
    headers: auth,
    ...common,
    next: () => ({ path: `/scim/v2/Groups/${groupId}`, body: patchBody(which) }),
  });

  const specs: LoadSpec[] = [
    { title: '(a) GET Users?filter=userName eq', url: base, headers: auth, ...common, next: () => ({ path: filterPath(rand()) }) },
    {
      title: '(b) POST /Users',
      url: base,
      method: 'POST',
      headers: auth,
      ...common,
      next: () => ({ path: '/scim/v2/Users', body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], ...userData(posted++, `post-${runId}-`) }) }),
    },
    // PATCH runs in the order c d d c (ABBA), so drift during the run (WAL growth, other load) weighs on both alike.
    patchSpec('(c) PATCH add 1 member, 100k group', bigId, 'big'),
    patchSpec('(d) PATCH add 1 member, 10 group', smallId, 'small'),
    patchSpec('(d) PATCH add 1 member, 10 group', smallId, 'small'),
    patchSpec('(c) PATCH add 1 member, 100k group', bigId, 'big'),
  ];
  const results: LoadFigures[] = [];
  process.stdout.write('running (e) baseline ...');
  const baseline = await measure({ title: '(e) baseline: bare Express 5 + Map', url: `http://127.0.0.1:${bare.port}`, ...common, next: () => ({ path: filterPath(rand()) }) });
  const bareStats = await bare.ask<ServerStats>('stats');
  process.stdout.write(` rss ${fmt(mb(bareStats.rss))} MiB, peak ${fmt(mb(bareStats.peakSinceLast))} MiB\n`);
  await bare.stop();
  for (const spec of specs) {
    process.stdout.write(`running ${spec.title} ...`);
    results.push(await measure(spec));
    const s = await real.ask<ServerStats>('stats');
    process.stdout.write(` server rss ${fmt(mb(s.rss))} MiB, peak during the run ${fmt(mb(s.peakSinceLast))} MiB\n`);
  }
  const after = await real.ask<ServerStats>('stats');
  await real.stop();

  results.push(baseline);
  console.log('');

  // 3. Report.
  const server = serverTimes(path.join(dir, 'real.log'), results.slice(0, 6));
  console.log(
    table(
      ['run', 'req/s', 'p50 ms', 'p99 ms', 'mean ms', 'max ms', 'requests', 'errors', 'non-2xx', 'server p50', 'server p99'],
      results.map((r, i) => [r.title, r.rps, r.p50, r.p99, r.mean, r.max, r.requests, r.errors, r.non2xx, server[i]?.p50 ?? '-', server[i]?.p99 ?? '-']),
    ),
  );
  const load = os.loadavg();
  console.log(`(latencies are client-side, from autocannon; "server" columns are the service's own access-log ms for the same runs; load average now ${load.map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores)`);
  if (spareWraps) console.log(`note: the spare pool ran out; ${spareWraps} PATCH requests re-added an existing member (raise BENCH_SPARES)`);
  const [get, , big1, small1, small2, big2] = results;
  const rpsRatio = get.rps / baseline.rps;
  const avg = (a: number, b: number) => (a + b) / 2;
  const big = { p99: avg(big1.p99, big2.p99), mean: avg(big1.mean, big2.mean) };
  const small = { p99: avg(small1.p99, small2.p99), mean: avg(small1.mean, small2.mean) };
  const p99Ratio = big.p99 / small.p99;
  const meanRatio = big.mean / small.mean;
  const peak = Math.max(after.sampledPeakRss, after.maxRss);
  console.log(
    `\nserver memory: rss after the runs ${fmt(mb(after.rss))} MiB, sampled peak ${fmt(mb(after.sampledPeakRss))} MiB, ` +
      `kernel peak (ru_maxrss) ${fmt(mb(after.maxRss))} MiB, heap used ${fmt(mb(after.heapUsed))} MiB; baseline server rss ${fmt(mb(bareStats.rss))} MiB\n`,
  );
  const clean = (r: LoadFigures) => r.errors === 0 && r.non2xx === 0;
  const list: Verdict[] = [
    { target: 'filtered GET rps / bare baseline rps >= 0.5', measured: `${fmt(get.rps)} / ${fmt(baseline.rps)} = ${rpsRatio.toFixed(2)}`, pass: rpsRatio >= 0.5 },
    { target: 'filtered GET p99 < 20 ms', measured: `${fmt(get.p99)} ms`, pass: get.p99 < 20 },
    { target: 'PATCH 100k group / 10 group p99 <= 1.5x (avg of 2 passes)', measured: `${fmt(big.p99)} / ${fmt(small.p99)} ms = ${p99Ratio.toFixed(2)} (mean ${meanRatio.toFixed(2)})`, pass: p99Ratio <= 1.5 },
    { target: 'server peak RSS < 200 MiB', measured: `${fmt(mb(peak))} MiB (after runs ${fmt(mb(after.rss))} MiB)`, pass: mb(peak) < 200 },
    { target: 'no errors / non-2xx in (a)-(d)', measured: results.slice(0, 6).map((r) => `${r.errors}/${r.non2xx}`).join(' '), pass: results.slice(0, 6).every(clean) },
  ];
  console.log(verdicts(list));
  const json = {
    bench: 'scim',
    at: new Date().toISOString(),
    cores: os.cpus().length,
    node: process.version,
    users: USERS,
    seconds,
    connections,
    runs: results,
    ratios: { getRpsVsBaseline: rpsRatio, patchBigVsSmallP99: p99Ratio, patchBigVsSmallMean: meanRatio },
    memory: { rssAfter: after.rss, sampledPeakRss: after.sampledPeakRss, maxRss: after.maxRss, baselineRss: bareStats.rss },
    targets: list,
  };
  console.log('\n' + JSON.stringify(json));
  if (process.env.BENCH_KEEP !== '1') fs.rmSync(dir, { recursive: true, force: true });
  process.exitCode = exitCode(list);
}

/** Server-side handling time per run, from the access log lines ({message:'request', ms, timestamp}) inside each measured span. */
function serverTimes(logFile: string, runs: LoadFigures[]): Array<{ p50: number; p99: number } | undefined> {
  const lines: Array<{ at: number; ms: number }> = [];
  for (const l of fs.readFileSync(logFile, 'utf8').split('\n')) {
    if (!l.includes('"message":"request"')) continue;
    const e = JSON.parse(l) as { ms: number; timestamp: string };
    lines.push({ at: Date.parse(e.timestamp), ms: e.ms });
  }
  return runs.map((r) => {
    const ms = lines.filter((l) => l.at >= r.from && l.at <= r.to).map((l) => l.ms).sort((a, b) => a - b);
    return ms.length ? { p50: percentile(ms, 50), p99: percentile(ms, 99) } : undefined;
  });
}

/** Writes one user and one group through the store itself, to compare its rows with the bulk loader's. */
async function shapeCheckBefore(db: Db): Promise<{ userId: string; groupId: string }> {
  const store = new SqlIdentityStore(sqliteDriverFor(db));
  const u = await store.createUser(userData(0, 'shape-'), { actor: 'bench' });
  const g = await store.createGroup({ displayName: 'shape-group' }, [u.id], { actor: 'bench' });
  return { userId: u.id, groupId: g.id };
}

/** Same columns (null or not, type), same doc keys, same emails rows: else the bulk loader no longer matches the store. */
function shapeCheckAfter(db: Db, shape: { userId: string }, bulkUserId: string): void {
  const row = (id: string) => db.prepare('SELECT * FROM users WHERE id = ?').get(id) as Record<string, unknown>;
  const a = row(shape.userId);
  const b = row(bulkUserId);
  const kind = (v: unknown) => (v === null ? 'null' : typeof v);
  const keys = (doc: unknown) => JSON.stringify(Object.keys(JSON.parse(String(doc)) as object).sort());
  const problems: string[] = [];
  for (const k of Object.keys(a)) if (kind(a[k]) !== kind(b[k])) problems.push(`${k}: store ${JSON.stringify(a[k])}, bulk ${JSON.stringify(b[k])}`);
  for (const k of ['active', 'version']) if (a[k] !== b[k]) problems.push(`${k}: store ${a[k]}, bulk ${b[k]}`);
  if (keys(a.doc) !== keys(b.doc)) problems.push(`doc keys: store ${keys(a.doc)}, bulk ${keys(b.doc)}`);
  const emails = (id: string) => JSON.stringify(db.prepare('SELECT type, is_primary FROM user_emails WHERE user_id = ?').all(id));
  if (emails(shape.userId) !== emails(bulkUserId)) problems.push(`user_emails: store ${emails(shape.userId)}, bulk ${emails(bulkUserId)}`);
  if (problems.length) console.log(`WARNING: bulk rows differ from the store's: ${problems.join('; ')}`);
  else console.log('shape check: bulk-loaded rows match the rows the store writes');
}

/** The data is there and the token works, before anything is timed. */
async function sanity(base: string, auth: Record<string, string>, bigId: string): Promise<void> {
  const r = await fetch(`${base}/scim/v2/Users?filter=${encodeURIComponent('userName eq "user42"')}`, { headers: auth });
  const body = (await r.json()) as { totalResults?: number };
  if (r.status !== 200 || body.totalResults !== 1) throw new Error(`sanity: GET user42 answered ${r.status} ${JSON.stringify(body)}`);
  const g = await fetch(`${base}/scim/v2/Groups/${bigId}?excludedAttributes=members`, { headers: auth });
  if (g.status !== 200) throw new Error(`sanity: GET big group answered ${g.status}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
