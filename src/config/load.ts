import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import cron from 'node-cron';
import { parseFilterText } from '../core/filter';
import { usernameTemplateProblems } from '../core/username-template';
import { configSchema, type Config } from './schema';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** The package root (where package.json lives), found from this file whether run from src/ or dist/. */
export function packageRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + __dirname);
    dir = up;
  }
  return dir;
}

export const DEFAULT_CONFIG_FILE = () => path.join(packageRoot(), 'config', 'default.yaml');

/** Environment variables for what differs per deployment, and where they land in the config. */
export const ENV_KEYS: Record<string, string[]> = {
  PORT: ['server', 'port'],
  HOST: ['server', 'host'],
  METRICS_PORT: ['server', 'metricsPort'],
  PUBLIC_URL: ['server', 'publicUrl'],
  DATABASE_PATH: ['database', 'path'],
  DATABASE_URL: ['database', 'url'],
  DATABASE_SCHEMA: ['database', 'schema'],
  LOG_LEVEL: ['logging', 'level'],
  LOG_FORMAT: ['logging', 'format'],
  SCIM_TOKEN: ['scim', 'token'],
  AIRFLOW_URL: ['airflow', 'url'],
  AIRFLOW_API_VERSION: ['airflow', 'apiVersion'],
  AIRFLOW_USERNAME: ['airflow', 'apiUser'],
  AIRFLOW_PASSWORD: ['airflow', 'apiPassword'],
  AIRFLOW_PASSWORD_FILE: ['airflow', 'apiPasswordFile'],
  AIRFLOW_JWT_SECRET: ['airflow', 'jwtSecret'],
  AIRFLOW_JWT_SECRET_FILE: ['airflow', 'jwtSecretFile'],
  AIRFLOW_JWT_USER_ID: ['airflow', 'jwtUserId'],
  RECONCILE_SCHEDULE: ['reconcile', 'schedule'],
  NOTIFY_WEBHOOK_URL: ['notify', 'webhook', 'url'],
  ADMIN_PORT: ['admin', 'port'],
  ADMIN_TOKEN: ['admin', 'token'],
  ADMIN_TOKEN_FILE: ['admin', 'tokenFile'],
};

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Objects merge key by key; arrays and scalars replace. */
export function deepMerge(base: Obj, over: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isObj(v) && isObj(out[k]) ? deepMerge(out[k] as Obj, v) : v;
  }
  return out;
}

function readYaml(file: string, problems: string[]): Obj {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    problems.push(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return {};
  }
  const doc = YAML.parseDocument(text);
  if (doc.errors.length) {
    for (const err of doc.errors) problems.push(`${file}: ${err.message.split('\n')[0]}`);
    return {};
  }
  const v = doc.toJS() ?? {};
  if (!isObj(v)) {
    problems.push(`${file}: the top level must be a mapping`);
    return {};
  }
  return v;
}

export interface LoadOptions {
  /** Extra config file (--config); AIRFLOW_SCIM_CONFIG when absent. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Overrides applied last, for tests and the demo. */
  overrides?: Obj;
}

/** Reads default.yaml, then the given file, then the environment; validates once; returns a frozen Config. */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const problems: string[] = [];
  const fromEnv = new Map<string, string>();
  let raw = readYaml(DEFAULT_CONFIG_FILE(), problems);
  const file = opts.file ?? env.AIRFLOW_SCIM_CONFIG;
  if (file) raw = deepMerge(raw, readYaml(file, problems));
  for (const [name, keyPath] of Object.entries(ENV_KEYS)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    raw = deepMerge(raw, keyPath.reduceRight<Obj>((acc, k) => ({ [k]: acc }), value as unknown as Obj));
    fromEnv.set(keyPath.join('.'), name);
  }
  if (opts.overrides) raw = deepMerge(raw, opts.overrides);
  return parseConfig(raw, problems, fromEnv);
}

/**
 * Validates once and reports every problem together (STYLE habit 9), each naming its key and, when the value came
 * from the environment, the variable: "airflow.apiVersion (from AIRFLOW_API_VERSION): …".
 */
export function parseConfig(raw: unknown, problems: string[] = [], fromEnv: ReadonlyMap<string, string> = new Map()): Config {
  const label = (key: string) => (fromEnv.has(key) ? `${key} (from ${fromEnv.get(key)})` : key);
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const where = issue.path.map(String).join('.') || '(top level)';
      const keys = 'keys' in issue && Array.isArray(issue.keys) ? ` (${issue.keys.join(', ')})` : '';
      problems.push(`${label(where)}: ${issue.message}${keys}`);
    }
    // The template and cron checks run on the raw values too, so they join the schema's problems instead of waiting.
    const r = isObj(raw) ? raw : {};
    const rawTemplate = isObj(r.airflow) ? r.airflow.username : undefined;
    const rawSchedule = isObj(r.reconcile) ? r.reconcile.schedule : undefined;
    if (typeof rawTemplate === 'string') for (const p of usernameTemplateProblems(rawTemplate)) problems.push(`${label('airflow.username')}: ${p}`);
    if (typeof rawSchedule === 'string' && !cron.validate(rawSchedule)) problems.push(`${label('reconcile.schedule')}: "${rawSchedule}" is not a valid cron expression`);
  }
  if (result.success) {
    // Mapping filters are checked here, with the same parser the SCIM API uses, so a bad rule stops start-up.
    result.data.roles.mappings.forEach((m, i) => {
      if (m.filter === undefined) return;
      try {
        parseFilterText(m.filter);
      } catch (e) {
        problems.push(`roles.mappings.${i}.filter: ${(e as Error).message} (rule "${m.filter}")`);
      }
    });
    const adm = result.data.admin;
    if (adm.port !== null && !adm.token && !adm.tokenFile) problems.push(`${label('admin.token')}: required when admin.port is set (ADMIN_TOKEN or ADMIN_TOKEN_FILE)`);
    if (adm.token && adm.token === result.data.scim.token) problems.push(`${label('admin.token')}: must differ from the SCIM token`);
    const a = result.data.airflow;
    if ((a.jwtSecret || a.jwtSecretFile) && !a.jwtUserId) {
      problems.push(`${label('airflow.jwtUserId')}: required with airflow.jwtSecret; the service account's id from \`airflow users list\``);
    }
    if (a.jwtUserId && !a.jwtSecret && !a.jwtSecretFile) problems.push(`${label('airflow.jwtSecret')}: required with airflow.jwtUserId`);
    if ((a.jwtSecret || a.jwtSecretFile) && a.apiVersion === '2') problems.push(`${label('airflow.jwtSecret')}: only Airflow 3 uses JWTs (airflow.apiVersion is 2)`);
    for (const p of usernameTemplateProblems(result.data.airflow.username)) problems.push(`${label('airflow.username')}: ${p}`);
    const srv = result.data.server;
    if (srv.headersTimeout <= srv.keepAliveTimeout) problems.push(`server.headersTimeout: must be above server.keepAliveTimeout (${srv.headersTimeout} ms ≤ ${srv.keepAliveTimeout} ms)`);
    if (srv.requestTimeout !== 0 && srv.requestTimeout < srv.headersTimeout) problems.push(`server.requestTimeout: must be 0 or at least server.headersTimeout (${srv.requestTimeout} ms < ${srv.headersTimeout} ms)`);
    if (!cron.validate(result.data.reconcile.schedule)) problems.push(`${label('reconcile.schedule')}: "${result.data.reconcile.schedule}" is not a valid cron expression`);
  }
  if (problems.length || !result.success) throw new ConfigError(problems);
  const config = result.data;
  if (config.airflow.apiPasswordFile && !config.airflow.apiPassword) {
    try {
      config.airflow.apiPassword = fs.readFileSync(config.airflow.apiPasswordFile, 'utf8').trim();
    } catch (e) {
      throw new ConfigError([`${label('airflow.apiPasswordFile')}: cannot read ${config.airflow.apiPasswordFile} (${(e as NodeJS.ErrnoException).code})`]);
    }
  }
  if (config.admin.tokenFile && !config.admin.token) {
    try {
      config.admin.token = fs.readFileSync(config.admin.tokenFile, 'utf8').trim();
    } catch (e) {
      throw new ConfigError([`admin.tokenFile: cannot read ${config.admin.tokenFile} (${(e as NodeJS.ErrnoException).code})`]);
    }
  }
  if (config.airflow.jwtSecretFile && !config.airflow.jwtSecret) {
    try {
      config.airflow.jwtSecret = fs.readFileSync(config.airflow.jwtSecretFile, 'utf8').trim();
    } catch (e) {
      throw new ConfigError([`airflow.jwtSecretFile: cannot read ${config.airflow.jwtSecretFile} (${(e as NodeJS.ErrnoException).code})`]);
    }
  }
  return deepFreeze(config);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
