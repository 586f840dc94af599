import fs from 'node:fs';
import path from 'node:path';
import { describeDatabase } from '../config/database';
import { loadConfig } from '../config/load';
import type { Config } from '../config/schema';
import { createLogger } from '../logger';
import { buildContainer, type Container, type ContainerOptions } from '../server/container';

/** A CLI problem the user can fix; main.ts prints it as "error: …" and exits 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

export interface OpenOptions extends Omit<ContainerOptions, 'logger'> {
  /** Read-only commands (tokens list, status, audit, explain, users, groups) never create a database. */
  readOnly?: boolean;
  /** Log at the configured level instead of warn. */
  verbose?: boolean;
}

/** "database /data/x.db; Airflow http://af:8080 (API version auto)": what every command says it uses (no password). */
export function describeTargets(config: Config): string {
  const db = describeDatabase(config.database, (p) => path.resolve(p));
  const airflow = config.airflow.url ? `Airflow ${config.airflow.url} (API version ${config.airflow.apiVersion})` : 'no Airflow (AIRFLOW_URL unset)';
  return `database ${db}; ${airflow}`;
}

/** Loads the config, says on stderr which database and Airflow the command uses, then opens them. */
export async function openCli(opts: { config?: string }, o: OpenOptions = {}): Promise<Container> {
  const config = loadConfig({ file: opts.config });
  process.stderr.write(`airflow-scim: ${describeTargets(config)}\n`);
  if (o.readOnly && !config.database.url && config.database.path !== ':memory:' && !fs.existsSync(config.database.path)) {
    throw new CliError(
      `no database at ${path.resolve(config.database.path)} (set by DATABASE_PATH or database.path, relative to the working directory ${process.cwd()}); ` +
        'this command only reads, so it creates none: check the path, or run "airflow-scim serve" once to create it',
    );
  }
  const { readOnly: _r, verbose, ...rest } = o;
  // CLI commands log warnings and errors only, to stderr, so stdout stays parseable.
  return buildContainer(config, { logger: createLogger(verbose ? config.logging.level : 'warn', { format: config.logging.format }), ...rest });
}
