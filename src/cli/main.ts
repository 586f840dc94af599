#!/usr/bin/env node
import { Command, Option } from 'commander';
import { ConfigError, loadConfig } from '../config/load';
import { parseDuration, since } from '../core/duration';
import { buildContainer, type Container, type ContainerOptions } from '../server/container';
import { describeHolder } from '../store/lease-types';
import { LeaseHeldError } from '../server/process-lease';
import { startService } from '../server/serve';
import { serviceStatus } from '../server/status';
import { explainUser, formatExplanation } from '../reconcile/explain';
import { TokenExistsError } from '../store/token-types';
import { formatReport, table } from './format';
import { runDemo } from './demo';
import { createLogger } from '../logger';

/** Exit codes of `reconcile`: 0 applied or nothing to do, 1 error, 2 blocked by the safety step. */
export const EXIT = { ok: 0, error: 1, blocked: 2 } as const;

const configOption = () => new Option('-c, --config <file>', 'YAML config file to merge over the defaults (or AIRFLOW_SCIM_CONFIG)');

function container(opts: { config?: string }, quiet = true, extra: Omit<ContainerOptions, 'logger'> = {}): Container {
  const config = loadConfig({ file: opts.config });
  // CLI commands log warnings and errors only, to stderr, so stdout stays parseable.
  return buildContainer(config, { logger: createLogger(quiet ? 'warn' : config.logging.level), ...extra });
}

export function buildProgram(): Command {
  const program = new Command('airflow-scim')
    .description('SCIM 2.0 service provider that keeps Apache Airflow users and roles in step with your identity provider')
    .version(require('../../../package.json').version as string)
    .showHelpAfterError('(add --help for usage)');

  program
    .command('serve')
    .description('run the SCIM API on PORT (8080), metrics on METRICS_PORT (9464), and the reconciler')
    .addOption(configOption())
    .action(async (opts) => {
      const c = container(opts, false);
      const svc = await startService(c);
      const shutdown = (signal: string) => {
        c.logger.info(`received ${signal}`);
        svc.stop().then(
          () => process.exit(0),
          (e) => {
            c.logger.error('shutdown failed', { error: (e as Error).message });
            process.exit(1);
          },
        );
      };
      process.once('SIGTERM', () => shutdown('SIGTERM'));
      process.once('SIGINT', () => shutdown('SIGINT'));
    });

  const tokens = program.command('tokens').description('manage SCIM bearer tokens (only a hash is stored)');
  tokens
    .command('create')
    .description('create a token and print it once')
    .requiredOption('--name <name>', 'a name for the token, e.g. okta or entra')
    .option('--expires-in <duration>', 'lifetime, e.g. 90d or 12h (default: never expires)')
    .addOption(configOption())
    .action((opts) => {
      const c = container(opts);
      try {
        const t = c.tokens.create(opts.name, opts.expiresIn ? parseDuration(opts.expiresIn) : undefined);
        c.audit.record({ at: c.clock.now().toISOString(), source: 'admin', actor: 'cli', action: 'token-created', outcome: 'success', subject: t.name, detail: { expiresAt: t.expiresAt ?? null } });
        process.stdout.write(`${t.secret}\n`);
        process.stderr.write(`Token "${t.name}" created${t.expiresAt ? `, expires ${t.expiresAt}` : ''}. It is shown only this once: store it in your IdP now.\n`);
      } catch (e) {
        if (e instanceof TokenExistsError) fail(e.message);
        throw e;
      } finally {
        c.close();
      }
    });
  tokens
    .command('list')
    .description('list tokens: name, created, last used, expiry (never the secret)')
    .option('--json', 'print JSON')
    .addOption(configOption())
    .action((opts) => {
      const c = container(opts);
      const list = c.tokens.list().map(({ hash: _hash, ...rest }) => rest);
      c.close();
      if (opts.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      process.stdout.write(
        table(
          ['NAME', 'CREATED', 'LAST USED', 'EXPIRES', 'REVOKED'],
          list.map((t) => [t.name, t.created, t.lastUsed ?? '-', t.expiresAt ?? 'never', t.revokedAt ?? '-']),
        ) + '\n',
      );
    });
  tokens
    .command('revoke <name>')
    .description('revoke a token at once')
    .addOption(configOption())
    .action((name: string, opts) => {
      const c = container(opts);
      const ok = c.tokens.revoke(name);
      if (ok) c.audit.record({ at: c.clock.now().toISOString(), source: 'admin', actor: 'cli', action: 'token-revoked', outcome: 'success', subject: name });
      c.close();
      if (!ok) fail(`no active token named "${name}" (see: airflow-scim tokens list)`);
      process.stderr.write(`Token "${name}" revoked.\n`);
    });

  program
    .command('audit')
    .description('print the audit trail: SCIM writes and Airflow changes')
    .option('--since <duration>', 'only entries newer than this, e.g. 1h or 7d')
    .option('--user <username>', 'only entries about this SCIM userName or Airflow username')
    .addOption(new Option('--source <source>', 'only this source').choices(['scim', 'airflow', 'admin']))
    .option('--limit <n>', 'at most this many entries (oldest first)', (v) => parseInt(v, 10))
    .option('--json', 'print JSON lines')
    .addOption(configOption())
    .action((opts) => {
      const c = container(opts);
      const entries = c.audit.query({
        since: opts.since ? since(c.clock.now(), opts.since) : undefined,
        subject: opts.user,
        source: opts.source,
        limit: opts.limit,
      });
      c.close();
      if (opts.json) return void process.stdout.write(entries.map((e) => JSON.stringify(e)).join('\n') + (entries.length ? '\n' : ''));
      process.stdout.write(
        table(
          ['TIME', 'SOURCE', 'ACTOR', 'ACTION', 'SUBJECT', 'OUTCOME', 'DETAIL'],
          entries.map((e) => [e.at, e.source, e.actor, e.action, e.subject ?? e.resourceId ?? '-', e.outcome + (e.status ? ` ${e.status}` : ''), e.detail ? JSON.stringify(e.detail) : '']),
        ) + '\n',
      );
    });

  program
    .command('reconcile')
    .description('one-shot: plan Airflow changes from the SCIM state, check them, apply them (exit 0 ok, 1 error, 2 blocked)')
    .option('--dry-run', 'compute and print the plan, change nothing')
    .option('--json', 'print the run report as JSON')
    .option('--allow-mass-deprovision', 'apply deprovisions even beyond the safety limits (an admin decision, audited)')
    .option('--wait <duration>', 'how long to wait for a reconcile run in progress (the service\'s or another CLI\'s) to finish; 0 = refuse at once', '2m')
    .addOption(configOption())
    .action(async (opts) => {
      const waitMs = parseDuration(opts.wait);
      const c = container(opts, true, {
        reconcileWaitMs: waitMs,
        reconcilePurpose: `reconcile (cli${opts.dryRun ? ', dry run' : ''})`,
        onReconcileWait: (h) => process.stderr.write(`waiting for the reconcile run in progress: ${describeHolder(h)} (up to ${opts.wait}; --wait 0 to refuse instead)\n`),
      });
      if (!c.reconciler) {
        c.close();
        fail('AIRFLOW_URL is not set: there is no Airflow to reconcile with');
      }
      const tty = process.stderr.isTTY && !opts.json;
      let report;
      try {
        report = await c.reconciler!.runOnce({
          dryRun: !!opts.dryRun,
          allowMassDeprovision: !!opts.allowMassDeprovision,
          trigger: 'cli',
          onProgress: tty ? (done: number, total: number) => process.stderr.write(`\rapplying ${done}/${total}`) : undefined,
        });
      } catch (e) {
        c.close();
        if (e instanceof LeaseHeldError) fail(`${e.message}; nothing was changed (try again later, or --wait 5m)`);
        throw e;
      }
      if (tty && report.outcomes.length) process.stderr.write('\n');
      if (opts.allowMassDeprovision && !opts.dryRun)
        c.audit.record({ at: c.clock.now().toISOString(), source: 'admin', actor: 'cli', action: 'allow-mass-deprovision', outcome: 'success', detail: { result: report.result } });
      c.close();
      process.stdout.write((opts.json ? JSON.stringify(report, null, 2) : formatReport(report)) + '\n');
      process.exitCode = report.result === 'blocked' ? EXIT.blocked : report.result === 'failed' || report.result === 'partial' ? EXIT.error : EXIT.ok;
    });

  program
    .command('status')
    .description('last reconcile run, its result, pending changes, a blocked plan if any, and what /readyz reports')
    .option('--json', 'print JSON')
    .option('--no-probe', 'do not call Airflow')
    .addOption(configOption())
    .action(async (opts) => {
      const c = container(opts);
      const s = await serviceStatus({ db: c.db, store: c.store, state: c.state, airflow: c.airflow }, { probeAirflow: opts.probe });
      c.close();
      if (opts.json) process.stdout.write(JSON.stringify(s, null, 2) + '\n');
      else {
        const rows = Object.entries(s.checks).map(([k, v]) => [k, v.ok ? 'ok' : 'PROBLEM', v.detail ?? '']);
        const run = (label: string, r: typeof s.lastRun) =>
          r ? `${label}: ${r.result} at ${r.finished} (${r.origin}, trigger ${r.trigger})${r.error ? `: ${r.error}` : ''}\n` : '';
        process.stdout.write(
          `${s.ready ? 'ready' : 'NOT READY'}; ${s.pendingChanges} SCIM change(s) not yet reconciled\n` +
            run('last run', s.lastRun) +
            (s.lastCliRun && s.lastCliRun !== s.lastRun && s.lastCliRun.finished !== s.lastRun?.finished ? run('last CLI run', s.lastCliRun) : '') +
            `${table(['CHECK', 'STATE', 'DETAIL'], rows)}\n`,
        );
      }
      process.exitCode = s.ready && Object.values(s.checks).every((x) => x.ok) ? 0 : 1;
    });

  program
    .command('explain <user>')
    .description('why a user has the Airflow roles they have: groups, mapping rules, last change applied')
    .option('--json', 'print JSON')
    .addOption(configOption())
    .action((user: string, opts) => {
      const c = container(opts);
      const e = explainUser(user, { store: c.store, state: c.state, audit: c.audit, config: c.config });
      c.close();
      process.stdout.write((opts.json ? JSON.stringify(e, null, 2) : formatExplanation(e)) + '\n');
    });

  program
    .command('demo')
    .description('start a fake Airflow and the service wired to it on a throw-away database, and optionally replay an IdP')
    .addOption(new Option('--airflow <version>', 'fake Airflow API version').choices(['2', '3']).default('3'))
    .addOption(new Option('--replay <idp>', 'play a recorded provisioning sequence').choices(['okta', 'entra']))
    .option('--port <port>', 'SCIM port', (v) => parseInt(v, 10), 8080)
    .option('--exit', 'stop after the replay (for scripts)')
    .action((opts) => runDemo({ airflow: Number(opts.airflow) as 2 | 3, replay: opts.replay, port: opts.port, exitAfter: !!opts.exit }));

  return program;
}

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(EXIT.error);
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((e: unknown) => {
      if (e instanceof ConfigError) fail(e.message);
      process.stderr.write(`error: ${(e as Error).message}\n`);
      process.exit(EXIT.error);
    });
}
