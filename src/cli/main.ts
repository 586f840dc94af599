#!/usr/bin/env node
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline/promises';
import { Command, Option } from 'commander';
import { ConfigError } from '../config/load';
import { parseDuration, since } from '../core/duration';
import type { Container } from '../server/container';
import { startService } from '../server/serve';
import { serviceStatus } from '../server/status';
import { explainUser, formatExplanation } from '../reconcile/explain';
import type { RunReport } from '../reconcile/types';
import { renderReport } from '../reconcile/report';
import { buildAccessReport } from '../server/access-report';
import { ownershipMap } from '../reconcile/state';
import { TokenExistsError } from '../store/token-types';
import { describeHolder } from '../store/lease-types';
import { isFailedResult } from '../store/reconcile-state';
import { LeaseHeldError } from '../server/process-lease';
import { ListenError } from '../server/listen';
import { forcedVersionMismatch } from '../server/version-check';
import { DatabasePathError } from '../store/database-path';
import { formatReport, planCounts, table } from './format';
import { runDemo } from './demo';
import { blockedKey, heldDecisionsKey } from '../reconcile/state-keys';
import { CliError, openCli } from './context';
import { auditForUser, groupRows, userRows, withNames } from './inspect';
import { duration, port, positiveInt } from './options';

/**
 * Exit codes. `reconcile`: 0 applied or nothing to do, 1 error, 2 blocked by the safety step.
 * `reconcile --dry-run --detailed-exitcode`: 0 no changes, 1 error, 2 changes pending, 3 blocked.
 */
export const EXIT = { ok: 0, error: 1, blocked: 2 } as const;
export const DETAILED_EXIT = { noChanges: 0, error: 1, changes: 2, blocked: 3 } as const;

const configOption = () => new Option('-c, --config <file>', 'YAML config file to merge over the defaults (or AIRFLOW_SCIM_CONFIG)');

/** The version in package.json (dist/src/cli/main.js → ../../../package.json). */
function packageVersion(): string {
  const file = path.join(__dirname, '..', '..', '..', 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

/** Who ran a decision, for the audit trail: the OS user (SUDO_USER first). */
function operator(): string {
  return process.env['SUDO_USER'] || process.env['USER'] || process.env['LOGNAME'] || (() => {
    try {
      return os.userInfo().username;
    } catch {
      return 'unknown';
    }
  })();
}

export function buildProgram(): Command {
  const program = new Command('airflow-scim')
    .description('SCIM 2.0 service provider that keeps Apache Airflow users and roles in step with your identity provider')
    .version(packageVersion())
    .showHelpAfterError('(add --help for usage)');

  program
    .command('serve')
    .description('run the SCIM API on PORT (8080), metrics on METRICS_PORT (9464), and the reconciler')
    .addOption(configOption())
    .action(async (opts) => {
      const c = await openCli(opts, { verbose: true });
      let svc;
      try {
        svc = await startService(c);
      } catch (e) {
        await c.close();
        throw e;
      }
      const running = svc;
      const shutdown = (signal: string) => {
        c.logger.info(`received ${signal}`);
        running.stop().then(
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
    .option('--expires-in <duration>', 'lifetime, e.g. 90d or 12h (default: never expires)', duration)
    .addOption(configOption())
    .action(async (opts) => {
      const c = await openCli(opts);
      try {
        const t = await c.tokens.create(opts.name, opts.expiresIn ? parseDuration(opts.expiresIn) : undefined);
        await c.audit.record({ at: c.clock.now().toISOString(), source: 'admin', actor: 'cli', action: 'token-created', outcome: 'success', subject: t.name, detail: { expiresAt: t.expiresAt ?? null } });
        process.stdout.write(`${t.secret}\n`);
        process.stderr.write(`Token "${t.name}" created${t.expiresAt ? `, expires ${t.expiresAt}` : ''}. It is shown only this once: store it in your IdP now.\n`);
      } catch (e) {
        if (e instanceof TokenExistsError) throw new CliError(`${e.message} (an active token already has this name: revoke it first, or choose another name)`);
        throw e;
      } finally {
        await c.close();
      }
    });
  tokens
    .command('list')
    .description('list tokens: name, state (active, expired, revoked), created, last used, expiry (never the secret)')
    .option('--json', 'print JSON')
    .addOption(configOption())
    .action(async (opts) => {
      const c = await openCli(opts, { readOnly: true });
      const list = (await c.tokens.list()).map(({ hash: _hash, ...rest }) => rest);
      await c.close();
      if (opts.json) return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
      process.stdout.write(
        table(
          ['NAME', 'STATE', 'CREATED', 'LAST USED', 'EXPIRES', 'REVOKED'],
          list.map((t) => [t.name, t.status, t.created, t.lastUsed ?? '-', t.expiresAt ?? 'never', t.revokedAt ?? '-']),
        ) + '\n',
      );
    });
  tokens
    .command('revoke <name>')
    .description('revoke a token at once')
    .addOption(configOption())
    .action(async (name: string, opts) => {
      const c = await openCli(opts, { readOnly: true });
      const ok = await c.tokens.revoke(name);
      if (ok) await c.audit.record({ at: c.clock.now().toISOString(), source: 'admin', actor: 'cli', action: 'token-revoked', outcome: 'success', subject: name });
      await c.close();
      if (!ok) throw new CliError(`no active token named "${name}" (see: airflow-scim tokens list)`);
      process.stderr.write(`Token "${name}" revoked.\n`);
    });

  program
    .command('audit')
    .description('print the audit trail: SCIM writes and Airflow changes')
    .option('--since <duration>', 'only entries newer than this, e.g. 1h or 7d', duration)
    .option('--user <username>', 'only entries about this SCIM userName or Airflow username, and the group changes that added or removed them')
    .addOption(new Option('--source <source>', 'only this source').choices(['scim', 'airflow', 'admin']))
    .option('--limit <n>', 'only the newest n entries (printed oldest first)', positiveInt)
    .option('--json', 'print JSON lines')
    .addOption(configOption())
    .action(async (opts) => {
      const c = await openCli(opts, { readOnly: true });
      const q = { since: opts.since ? since(c.clock.now(), opts.since) : undefined, source: opts.source, limit: opts.limit };
      const snapshot = await c.store.snapshot();
      const raw = opts.user ? await auditForUser(c.audit, snapshot, opts.user, q) : await c.audit.query(q);
      await c.close();
      // JSON keeps the ids as recorded (for machines); the table reads SCIM ids as userNames (for people).
      if (opts.json) return void process.stdout.write(raw.map((e) => JSON.stringify(e)).join('\n') + (raw.length ? '\n' : ''));
      const entries = withNames(raw, snapshot);
      process.stdout.write(
        table(
          ['TIME', 'SOURCE', 'ACTOR', 'ACTION', 'SUBJECT', 'OUTCOME', 'DETAIL'],
          entries.map((e) => [e.at, e.source, e.actor, e.action, e.subject ?? e.resourceId ?? '-', e.outcome + (e.status ? ` ${e.status}` : ''), e.detail ? JSON.stringify(e.detail) : '']),
        ) + '\n',
      );
    });

  program
    .command('reconcile')
    .description('one-shot: plan Airflow changes from the SCIM state, check them, apply them (on a terminal, after asking)')
    .option('--dry-run', 'compute and print the plan, change nothing')
    .option('--detailed-exitcode', 'with --dry-run: exit 0 no changes, 2 changes pending, 3 blocked by the safety limits, 1 error')
    .option('-y, --yes', 'apply without asking (on a terminal reconcile shows the plan and asks first)')
    .option('--json', 'print the run report as JSON (never asks)')
    .option('--allow-mass-deprovision', 'apply deprovisions even beyond the safety limits (an admin decision, audited)')
    .option('--wait <duration>', "how long to wait for a reconcile run in progress (the service's or another CLI's); 0 = refuse at once", duration, '2m')
    .addOption(configOption())
    .action(async (opts) => {
      if (opts.detailedExitcode && !opts.dryRun) throw new CliError('--detailed-exitcode needs --dry-run (it tells scripts what a plan would do)');
      const c = await openCli(opts, {
        reconcileWaitMs: parseDuration(opts.wait),
        reconcilePurpose: `reconcile (cli${opts.dryRun ? ', dry run' : ''})`,
        origin: 'cli',
        onReconcileWait: (h) => process.stderr.write(`waiting for the reconcile run in progress: ${describeHolder(h)} (up to ${opts.wait}; --wait 0 to refuse instead)\n`),
      });
      try {
        if (!c.reconciler) throw new CliError('AIRFLOW_URL is not set: there is no Airflow to reconcile with');
        const print = (r: RunReport) => process.stdout.write((opts.json ? JSON.stringify(r, null, 2) : formatReport(r)) + '\n');
        const interactive = !opts.dryRun && !opts.yes && !opts.json && process.stdin.isTTY === true && process.stdout.isTTY === true;
        if (interactive) {
          const planned = await runReconcile(c, { dryRun: true, allowMassDeprovision: !!opts.allowMassDeprovision, progress: false });
          print(planned);
          await nameVersionMismatch(c, planned);
          if (planned.result === 'failed') return void (process.exitCode = EXIT.error);
          if (planned.plan.actions.length === 0) return void (process.exitCode = EXIT.ok);
          if (!(await confirm('\nApply these changes? The run plans again on fresh state. Only "yes" is accepted: '))) {
            process.stderr.write('Nothing applied.\n');
            return void (process.exitCode = EXIT.error);
          }
        }
        const report = await runReconcile(c, { dryRun: !!opts.dryRun, allowMassDeprovision: !!opts.allowMassDeprovision, progress: !opts.json });
        if (opts.allowMassDeprovision && !opts.dryRun)
          await c.audit.record({ at: c.clock.now().toISOString(), source: 'admin', actor: 'cli', action: 'allow-mass-deprovision', outcome: 'success', detail: { result: report.result } });
        print(report);
        await nameVersionMismatch(c, report);
        process.exitCode = reconcileExit(report, !!opts.detailedExitcode);
      } finally {
        await c.flushNotifications();
        await c.close();
      }
    });

  program
    .command('status')
    .description('last reconcile run, its result, pending changes, a blocked plan if any, and what /readyz reports')
    .option('--json', 'print JSON')
    .option('--no-probe', 'do not call Airflow')
    .addOption(configOption())
    .action(async (opts) => {
      const c = await openCli(opts, { readOnly: true });
      const s = await serviceStatus(
        { driver: c.driver, tokenStore: c.tokenStore, leases: c.leases, store: c.store, state: c.state, airflow: c.airflow, logger: c.logger },
        { probeAirflow: opts.probe, diagnose: () => forcedVersionMismatch(c.config.airflow, c.logger) },
      );
      await c.close();
      if (opts.json) process.stdout.write(JSON.stringify(s, null, 2) + '\n');
      else {
        const rows = Object.entries(s.checks).map(([k, v]) => [k, v.ok ? 'ok' : 'PROBLEM', v.detail ?? '']);
        const run = (label: string, r: typeof s.lastRun) =>
          r ? `${label}: ${r.result} at ${r.finished} (${r.origin}, trigger ${r.trigger})${r.error ? `: ${r.error}` : ''}\n` : '';
        process.stdout.write(
          `${s.ready ? 'ready' : 'NOT READY'}; ${s.pendingChanges} SCIM change(s) not yet reconciled\n` +
            run('last run', s.lastRun) +
            (s.lastCliRun && s.lastCliRun.finished !== s.lastRun?.finished ? run('last CLI run', s.lastCliRun) : '') +
            (s.leader !== undefined ? `reconcile leader: ${s.leader ?? 'none (no service is reconciling)'}\n` : '') +
            `${table(['CHECK', 'STATE', 'DETAIL'], rows)}\n`,
        );
        for (const x of s.collisions ?? []) process.stdout.write(`USERNAME COLLISION ${x.username}: ${x.note}\n`);
        for (const w of s.warnings ?? []) process.stdout.write(`WARNING ${w}\n`);
      }
      process.exitCode = s.ready && Object.values(s.checks).every((x) => x.ok) ? 0 : 1;
    });

  program
    .command('release <username>')
    .description('release an Airflow account from the SCIM identity it is bound to, so the next run may give it to the SCIM user that now renders this username (status: USERNAME COLLISION)')
    .addOption(configOption())
    .action(async (username: string, opts) => {
      const c = await openCli(opts);
      const rec = (await c.state.owned()).find((o) => o.username.toLowerCase() === username.toLowerCase());
      if (!rec) {
        await c.close();
        fail(`"${username}" is not an Airflow account this service manages; nothing to release`);
      }
      await c.state.disown(rec.username);
      await c.audit.record({
        at: c.clock.now().toISOString(),
        source: 'admin',
        actor: 'cli',
        subject: rec.username,
        action: 'release-binding',
        outcome: 'success',
        detail: { scimUserId: rec.scimUserId, externalId: rec.externalId ?? null },
      });
      await c.close();
      process.stdout.write(`Released ${rec.username} (was bound to SCIM user ${rec.scimUserId ?? 'none'}); the next reconcile run may give it to the SCIM user that renders this username.\n`);
    });

  const held = program
    .command('held')
    .description('changes held back by the safety limits, and why; decide them one by one with "held approve" / "held reject"')
    .option('--json', 'print JSON')
    .addOption(configOption())
    .action(async (opts) => {
      const c = await openCli(opts, { readOnly: true });
      const b = await blockedKey.read(c.state, c.logger);
      const decisions = (await heldDecisionsKey.read(c.state, c.logger)) ?? {};
      await c.close();
      const rows = Object.entries(b?.heldChanges ?? {}).map(([user, h]) => ({ user, change: h.change, decision: decisions[user]?.key === h.key ? decisions[user].decision : 'undecided' }));
      if (opts.json) return void process.stdout.write(JSON.stringify({ reason: b?.reason ?? null, held: rows }, null, 2) + '\n');
      if (!b) return void process.stdout.write('Nothing is held.\n');
      process.stdout.write(`${b.reason}\n${table(['USER', 'DECISION', 'HELD CHANGE'], rows.map((r) => [r.user, r.decision, r.change]))}\n`);
    });
  for (const decision of ['approve', 'reject'] as const) {
    held
      .command(`${decision} <users...>`)
      .description(
        decision === 'approve'
          ? 'apply these held changes at the next run, whatever the limits say (audited with who ran it)'
          : 'keep these users\' access and stop proposing these changes until the IdP state changes again (audited)',
      )
      .addOption(configOption())
      .action(async (users: string[], opts) => {
        const c = await openCli(opts);
        try {
          const b = await blockedKey.read(c.state, c.logger);
          const decisions = (await heldDecisionsKey.read(c.state, c.logger)) ?? {};
          const by = operator();
          const at = c.clock.now().toISOString();
          for (const u of users) {
            const h = b?.heldChanges?.[u.toLowerCase()];
            if (!h) throw new CliError(`"${u}" has no held change (see "airflow-scim held")`);
            decisions[u.toLowerCase()] = { decision, key: h.key, by, at };
            await c.audit.record({ at, source: 'admin', actor: 'cli', subject: u, action: `held-${decision}`, outcome: 'success', detail: { by, change: h.change } });
          }
          await heldDecisionsKey.write(c.state, decisions);
          process.stdout.write(
            `${decision === 'approve' ? 'Approved' : 'Rejected'} ${users.length} held change(s) as ${by}; ` +
              `${decision === 'approve' ? 'they apply at the next reconcile run' : 'the next runs leave these users as they are'} ("airflow-scim reconcile" runs one now).\n`,
          );
        } finally {
          await c.close();
        }
      });
  }

  program
    .command('explain <user>')
    .description('why a user has the Airflow roles they have: groups, mapping rules, roles in Airflow now, last change applied (exit 1: unknown user)')
    .option('--json', 'print JSON')
    .option('--no-airflow', 'do not read Airflow (no current roles, no email clash check)')
    .addOption(configOption())
    .action(async (user: string, opts) => {
      const c = await openCli(opts, { readOnly: true });
      try {
        let airflowUsers: Awaited<ReturnType<NonNullable<Container['airflow']>['listUsers']>> | { error: string } | undefined;
        if (c.airflow && opts.airflow) airflowUsers = await c.airflow.listUsers().catch((e: Error) => ({ error: e.message }));
        else if (c.airflow) airflowUsers = { error: 'not read (--no-airflow)' };
        const e = await explainUser(user, { store: c.store, state: c.state, audit: c.audit, config: c.config, airflowUsers });
        process.stdout.write((opts.json ? JSON.stringify(e, null, 2) : formatExplanation(e)) + '\n');
        if (!e.scimUser && !e.ownership) process.exitCode = EXIT.error;
      } finally {
        await c.close();
      }
    });

  program
    .command('report')
    .description('reports for audits')
    .command('access')
    .description('access review: every Airflow account (read live), how it is held and why, flags, and every role with its permissions and holders')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'json', 'md']).default('table'))
    .option('--out <file>', 'write the report to this file instead of stdout')
    .addOption(configOption())
    .action(async (opts) => {
      const c = await openCli(opts, { readOnly: true });
      try {
        if (!c.airflow) throw new CliError('the access report reads Airflow: set AIRFLOW_URL (and the service account)');
        const report = await buildAccessReport(c);
        const text = renderReport(report, opts.format, table) + '\n';
        if (opts.out) {
          fs.writeFileSync(opts.out, text);
          process.stderr.write(`wrote ${report.accounts.length} account(s) and ${report.roles.length} role(s) to ${opts.out}\n`);
        } else process.stdout.write(text);
      } finally {
        await c.close();
      }
    });

  program
    .command('users')
    .description('SCIM users with their Airflow username, state and the roles the IdP gives them')
    .option('--json', 'print JSON')
    .addOption(configOption())
    .action(async (opts) => {
      const c = await openCli(opts, { readOnly: true });
      const owned = new Set((await ownershipMap(c.state)).keys());
      const rows = userRows(await c.store.snapshot(), c.config, owned);
      await c.close();
      if (opts.json) return void process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      process.stdout.write(
        table(
          ['USERNAME', 'AIRFLOW USERNAME', 'STATE', 'ROLES', 'GROUPS', 'MANAGED'],
          rows.map((r) => [r.userName, r.airflowUsername ?? '-', r.state, r.roles.length ? r.roles.join(',') : '-', r.groups.join(',') || '-', r.managed ? 'yes' : 'no']),
        ) + '\n',
      );
    });

  program
    .command('groups')
    .description('SCIM groups with their member count and the Airflow roles their mapping rules give')
    .option('--json', 'print JSON')
    .addOption(configOption())
    .action(async (opts) => {
      const c = await openCli(opts, { readOnly: true });
      const rows = groupRows(await c.store.snapshot(), c.config);
      await c.close();
      if (opts.json) return void process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      process.stdout.write(
        table(
          ['GROUP', 'EXTERNAL ID', 'MEMBERS', 'ROLES', 'RULES'],
          rows.map((r) => [r.displayName, r.externalId ?? '-', String(r.members), r.roles.join(',') || '-', r.rules.join('; ') || '(not mapped)']),
        ) + '\n',
      );
    });

  program
    .command('demo')
    .description('start a fake Airflow and the service wired to it on a throw-away database, and optionally replay an IdP')
    .addOption(new Option('--airflow <version>', 'fake Airflow API version').choices(['2', '3']).default('3'))
    .addOption(new Option('--replay <idp>', 'play a recorded provisioning sequence').choices(['okta', 'entra']))
    .option('--port <port>', 'SCIM port (default: a free one)', port, 0)
    .option('--exit', 'stop after the replay (for scripts)')
    .action((opts) => runDemo({ airflow: Number(opts.airflow) as 2 | 3, replay: opts.replay, port: opts.port, exitAfter: !!opts.exit }));

  return program;
}

async function runReconcile(c: Container, o: { dryRun: boolean; allowMassDeprovision: boolean; progress: boolean }): Promise<RunReport> {
  const tty = o.progress && process.stderr.isTTY === true && !o.dryRun;
  const report = await c.reconciler!.runOnce({
    dryRun: o.dryRun,
    allowMassDeprovision: o.allowMassDeprovision,
    trigger: 'cli',
    onProgress: tty ? (done: number, total: number) => process.stderr.write(`\rapplying ${done}/${total}`) : undefined,
  });
  if (tty && report.outcomes.length) process.stderr.write('\n');
  return report;
}

/** A run that failed under a forced AIRFLOW_API_VERSION: say whether the server runs another version. */
async function nameVersionMismatch(c: Container, report: RunReport): Promise<void> {
  if (report.result !== 'failed') return;
  const mismatch = await forcedVersionMismatch(c.config.airflow, c.logger);
  if (mismatch) process.stderr.write(`error: ${mismatch}\n`);
}

/** Exit code of a run; see EXIT and DETAILED_EXIT. */
export function reconcileExit(r: RunReport, detailed: boolean): number {
  if (isFailedResult(r.result)) return EXIT.error;
  if (detailed) return r.verdict.blocked ? DETAILED_EXIT.blocked : planCounts(r).total > 0 ? DETAILED_EXIT.changes : DETAILED_EXIT.noChanges;
  return r.result === 'blocked' ? EXIT.blocked : EXIT.ok;
}

async function confirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    return (await rl.question(question)).trim() === 'yes';
  } finally {
    rl.close();
  }
}

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(EXIT.error);
}

if (require.main === module) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((e: unknown) => {
      // Errors the user can act on are printed as they are; anything else too, without a stack.
      if (e instanceof ConfigError || e instanceof CliError || e instanceof LeaseHeldError || e instanceof ListenError || e instanceof DatabasePathError) fail(e.message);
      fail((e as Error).message);
    });
}
