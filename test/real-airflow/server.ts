/**
 * Runs real Airflow for tests (issue 7): installs each target's pinned requirements into a virtualenv kept in a
 * cache folder outside the repo (a second run installs nothing), makes a fresh AIRFLOW_HOME with a SQLite
 * metadata DB, the API service account, a break-glass Admin and one DAG, starts the API server on a free loopback
 * port and stops it by process group. Its log is kept in AIRFLOW_HOME and printed when start-up fails.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../support/processes';
import type { RealAirflowTarget } from './targets';

const run = promisify(execFile);
/** Beside this file under ts-jest; from dist/test/real-airflow (the compiled bench), back in the source tree. */
const REQUIREMENTS = [path.join(__dirname, 'requirements'), path.join(__dirname, '..', '..', '..', 'test', 'real-airflow', 'requirements')]
  .find((p) => fs.existsSync(p)) ?? path.join(__dirname, 'requirements');

export const SERVICE_ACCOUNT = { username: 'svc-scim', password: 'svc-scim-password', email: 'svc-scim@example.com' };
export const BREAK_GLASS = { username: 'admin', password: 'admin-pw', email: 'admin@example.com' };
/** A fixed secret shared by every API-server process (and by our self-signed-token mode). */
export const JWT_SECRET = 'airflow-scim-sync-test-jwt-secret-0123456789abcdef';
/** Parsed DAGs, so DAG:<id> resources exist. */
export const DAG_IDS = ['finance_daily', 'marketing_weekly'];
/** The extra role the service account needs under SSO: can_create on Users. */
export const PROVISIONER_ROLE = 'scim-provisioner';
/** A short permission cache, so "refused within [fab] cache_ttl" is quick to check. */
export const FAB_CACHE_TTL_S = 5;

/** What a test needs to reach one running target; serialised into REAL_AIRFLOW_SERVERS by the global setup. */
export interface RealAirflowServer {
  target: RealAirflowTarget;
  url: string;
  port: number;
  home: string;
  venv: string;
  logFile: string;
  /**
   * `[fab] update_fab_perms = False` after set-up. Under SSO FAB's start-up sync (every API-server start and every
   * CLI command) deletes can_create on Users, which the UserOAuthModelView does not declare
   * (override.py add_permissions_view), so a grant of it survives only with the sync off.
   */
  fabPermsFrozen?: boolean;
}

export function cacheDir(): string {
  return process.env['REAL_AIRFLOW_CACHE'] ?? path.join(os.homedir(), '.cache', 'airflow-scim-sync', 'real-airflow');
}

const hashOf = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 12);

async function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${(err.stderr ?? '').slice(-4000)}\n${(err.stdout ?? '').slice(-2000)}`, { cause: e });
  }
}

const installs = new Map<string, Promise<string>>();

/** The virtualenv for a requirements file, made once per content hash. */
export function ensureVenv(requirements: string): Promise<string> {
  let p = installs.get(requirements);
  if (!p) {
    p = makeVenv(requirements);
    installs.set(requirements, p);
  }
  return p;
}

async function makeVenv(requirements: string): Promise<string> {
  const root = cacheDir();
  fs.mkdirSync(root, { recursive: true });
  const uv = await ensureTools(root);
  const file = path.join(REQUIREMENTS, requirements);
  const dir = path.join(root, `venv-${path.basename(requirements, '.txt')}-${hashOf(file)}`);
  const marker = path.join(dir, '.installed');
  if (fs.existsSync(marker)) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  await sh(uv, ['venv', '--quiet', '--python', 'python3', dir]);
  await sh(uv, ['pip', 'install', '--quiet', '--python', path.join(dir, 'bin', 'python'), '-r', file]);
  fs.writeFileSync(marker, new Date().toISOString());
  return dir;
}

let tools: Promise<string> | undefined;
function ensureTools(root: string): Promise<string> {
  tools ??= (async () => {
    const file = path.join(REQUIREMENTS, 'tools.txt');
    const dir = path.join(root, `tools-${hashOf(file)}`);
    const uv = path.join(dir, 'bin', 'uv');
    if (fs.existsSync(path.join(dir, '.installed'))) return uv;
    fs.rmSync(dir, { recursive: true, force: true });
    await sh('python3', ['-m', 'venv', dir]);
    await sh(path.join(dir, 'bin', 'pip'), ['install', '--quiet', '--disable-pip-version-check', '-r', file]);
    fs.writeFileSync(path.join(dir, '.installed'), new Date().toISOString());
    return uv;
  })();
  return tools;
}

/** The environment every Airflow command of this server runs with. */
export function airflowEnv(s: Pick<RealAirflowServer, 'home' | 'target' | 'fabPermsFrozen'>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    LANG: 'C.UTF-8',
    AIRFLOW_HOME: s.home,
    AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
    AIRFLOW__CORE__DAGS_FOLDER: path.join(s.home, 'dags'),
    AIRFLOW__CORE__UNIT_TEST_MODE: 'False',
    AIRFLOW__LOGGING__LOGGING_LEVEL: 'WARNING',
    AIRFLOW__FAB__CACHE_TTL: String(FAB_CACHE_TTL_S),
    NO_PROXY: '*',
  };
  if (s.fabPermsFrozen) env['AIRFLOW__FAB__UPDATE_FAB_PERMS'] = 'False';
  if (s.target.apiVersion === 2) {
    env['AIRFLOW__API__AUTH_BACKENDS'] = 'airflow.providers.fab.auth_manager.api.auth.backend.basic_auth,airflow.api.auth.backend.session';
    env['AIRFLOW__WEBSERVER__SECRET_KEY'] = 'airflow-scim-sync-test-secret-key';
    env['AIRFLOW__WEBSERVER__WEB_SERVER_WORKER_TIMEOUT'] = '300';
  } else {
    env['AIRFLOW__CORE__AUTH_MANAGER'] = 'airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager';
    env['AIRFLOW__API_AUTH__JWT_SECRET'] = JWT_SECRET;
    env['AIRFLOW__API__SECRET_KEY'] = 'airflow-scim-sync-test-secret-key';
  }
  return env;
}

const DAG_FILE = (ids: string[]): string => `# Parsed at set-up so that DAG:<id> resources exist (real-airflow.md §5).
from datetime import datetime
try:
    from airflow.sdk import DAG
except ImportError:
    from airflow import DAG
try:
    from airflow.providers.standard.operators.empty import EmptyOperator
except ImportError:
    from airflow.operators.empty import EmptyOperator
for dag_id in ${JSON.stringify(ids)}:
    with DAG(dag_id, start_date=datetime(2024, 1, 1), schedule=None) as dag:
        EmptyOperator(task_id="noop")
    globals()[dag_id] = dag
`;

const WEBSERVER_CONFIG = (authType: RealAirflowTarget['authType']): string =>
  authType === 'AUTH_DB'
    ? `from flask_appbuilder.security.manager import AUTH_DB\nAUTH_TYPE = AUTH_DB\nWTF_CSRF_ENABLED = True\n`
    : `# The normal SSO set-up. No IdP needs to be reachable for the REST API checks.
from flask_appbuilder.security.manager import AUTH_OAUTH
AUTH_TYPE = AUTH_OAUTH
AUTH_USER_REGISTRATION = True
AUTH_USER_REGISTRATION_ROLE = "Viewer"
OAUTH_PROVIDERS = [{
    "name": "okta", "icon": "fa-circle-o", "token_key": "access_token",
    "remote_app": {
        "client_id": "airflow", "client_secret": "not-used",
        "api_base_url": "https://idp.invalid/oauth2/v1/",
        "client_kwargs": {"scope": "openid profile email groups"},
        "access_token_url": "https://idp.invalid/oauth2/v1/token",
        "authorize_url": "https://idp.invalid/oauth2/v1/authorize",
        "server_metadata_url": "https://idp.invalid/.well-known/openid-configuration",
    },
}]
`;

/** Runs `airflow ARGS` for this server; returns stdout. */
export function airflowCli(s: Pick<RealAirflowServer, 'home' | 'target' | 'venv' | 'fabPermsFrozen'>, args: string[], timeoutMs = 180_000, env: NodeJS.ProcessEnv = {}): Promise<string> {
  return sh(path.join(s.venv, 'bin', 'airflow'), args, { env: { ...airflowEnv(s), ...env }, cwd: s.home, timeoutMs });
}

/** Installs (or reuses) the target's virtualenv and makes a new AIRFLOW_HOME with accounts and DAGs. */
export async function prepare(target: RealAirflowTarget): Promise<RealAirflowServer> {
  const venv = await ensureVenv(target.requirements);
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `real-airflow-${target.id}-`));
  fs.mkdirSync(path.join(home, 'dags'));
  fs.writeFileSync(path.join(home, 'dags', 'scim_sync_test_dags.py'), DAG_FILE(DAG_IDS));
  fs.writeFileSync(path.join(home, 'webserver_config.py'), WEBSERVER_CONFIG(target.authType));
  const port = await freePort();
  const s: RealAirflowServer = { target, url: `http://127.0.0.1:${port}`, port, home, venv, logFile: path.join(home, 'server.log') };
  await airflowCli(s, ['db', 'migrate']);
  for (const u of [BREAK_GLASS, SERVICE_ACCOUNT]) {
    const [first, last] = u === BREAK_GLASS ? ['Break', 'Glass'] : ['SCIM', 'Sync'];
    await airflowCli(s, ['users', 'create', '-u', u.username, '-p', u.password, '-r', 'Admin', '-f', first, '-l', last, '-e', u.email]);
  }
  await airflowCli(s, ['dags', 'reserialize']);
  await airflowCli(s, ['sync-perm', '--include-dags']);
  if (target.authType !== 'AUTH_DB') s.fabPermsFrozen = true;
  return s;
}

const pidFile = (s: Pick<RealAirflowServer, 'home'>): string => path.join(s.home, 'server.pid');

/**
 * Starts the API server (3.x) or webserver (2.x) and waits until the version endpoint answers. `env` overrides
 * settings for this start only (e.g. another jwt_secret, or another auth manager).
 */
export async function start(s: RealAirflowServer, opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const bin = path.join(s.venv, 'bin', 'airflow');
  const args = s.target.apiVersion === 3
    ? ['api-server', '--host', '127.0.0.1', '--port', String(s.port), '--workers', '1']
    : ['webserver', '--hostname', '127.0.0.1', '--port', String(s.port), '--workers', '1'];
  const log = fs.openSync(s.logFile, 'a');
  fs.writeSync(log, `\n=== ${new Date().toISOString()} airflow ${args.join(' ')}\n`);
  const child = spawn(bin, args, { env: { ...airflowEnv(s), ...opts.env }, cwd: s.home, detached: true, stdio: ['ignore', log, log] });
  fs.closeSync(log);
  child.unref();
  fs.writeFileSync(pidFile(s), String(child.pid));
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  const versionPath = s.target.apiVersion === 3 ? '/api/v2/version' : '/api/v1/version';
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`Airflow ${s.target.id} exited with ${exited} during start-up\n${logTail(s)}`);
    try {
      const r = await fetch(`${s.url}${versionPath}`, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  await stop(s);
  throw new Error(`Airflow ${s.target.id} did not answer ${versionPath} within ${timeoutMs / 1000}s\n${logTail(s)}`);
}

/** Stops the server's whole process group (gunicorn or uvicorn workers included). */
export async function stop(s: Pick<RealAirflowServer, 'home'>, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!fs.existsSync(pidFile(s))) return;
  const pid = Number(fs.readFileSync(pidFile(s), 'utf8'));
  const alive = (): boolean => {
    try {
      process.kill(-pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
  const deadline = Date.now() + 20_000;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  if (alive()) process.kill(-pid, 'SIGKILL');
  fs.rmSync(pidFile(s), { force: true });
}

export function logTail(s: Pick<RealAirflowServer, 'logFile'>, chars = 6000): string {
  try {
    const text = fs.readFileSync(s.logFile, 'utf8');
    return `--- server log (${s.logFile}) ---\n${text.slice(-chars)}`;
  } catch {
    return '(no server log)';
  }
}

/** The running servers, as the global set-up left them. */
export function runningServers(): RealAirflowServer[] {
  const raw = process.env['REAL_AIRFLOW_SERVERS'];
  if (!raw) throw new Error('REAL_AIRFLOW_SERVERS is not set: run the real-Airflow suite with `npm run test:airflow`');
  return JSON.parse(raw) as RealAirflowServer[];
}
