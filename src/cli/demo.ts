import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline/promises';
import axios from 'axios';
import YAML from 'yaml';
import { loadConfig } from '../config/load';
import type { FakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import type * as FakeModule from '../../dev/fake-airflow/fake-airflow';
import { buildContainer, type Container } from '../server/container';
import { startService, type RunningService } from '../server/serve';
import { serviceStatus } from '../server/status';
import { ListenError } from '../server/listen';
import { createLogger } from '../logger';
import { ENTRA, OKTA, type DemoStep } from '../demo/sequences';
import { CliError } from './context';
import { formatReport, table } from './format';

export interface DemoOptions {
  airflow: 2 | 3;
  replay?: 'okta' | 'entra';
  /** 0 = any free port. */
  port: number;
  exitAfter: boolean;
}

/** The demo's mapping and limits, written to a file so that `explain` and `status` against its database agree. */
const DEMO_SETTINGS = {
  roles: {
    mappings: [
      { group: 'airflow-admins', roles: ['Admin'] },
      { group: 'data-engineers', roles: ['User'] },
      { groupPattern: 'viewers-*', roles: ['Viewer'] },
    ],
  },
  // Low on purpose: the tutorial's third phase trips them.
  safety: { protectedUsers: ['admin'], maxDeprovisions: 2, maxDeprovisionPercent: 100, window: '1h' },
};

/**
 * A short tutorial on a throw-away world (fake Airflow + the service on a temp database): provisioning, a deprovision,
 * a mass deprovision held by the safety limits, and its release. The temp folder goes on exit, Ctrl-C, SIGTERM,
 * SIGHUP or a start-up failure.
 */
/**
 * The fake Airflow is a development tool under dev/, not part of the container image: loaded only here, on demand,
 * so every other command works without it.
 */
function loadFakeAirflow(): typeof FakeModule {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- on demand: dev/ is not in the image
    return require('../../dev/fake-airflow/fake-airflow') as typeof FakeModule;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    throw new Error('the demo runs from a checkout of the repository (npm run demo): the container image does not ship the fake Airflow', { cause: e });
  }
}

export async function runDemo(opts: DemoOptions): Promise<void> {
  const { startFakeAirflow } = loadFakeAirflow();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'airflow-scim-demo-'));
  let fake: FakeAirflow | undefined;
  let svc: RunningService | undefined;
  let c: Container | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (svc) await svc.stop();
      else await c?.close();
      await fake?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    })());
  const onSignal = () => void stop().then(() => process.exit(0));
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const; // SIGHUP: the terminal was closed
  for (const sig of signals) process.once(sig, onSignal);
  try {
    fake = await startFakeAirflow({ version: opts.airflow, port: 0 });
    const cfgFile = path.join(dir, 'demo.yaml');
    const dbPath = path.join(dir, 'demo.db');
    fs.writeFileSync(
      cfgFile,
      YAML.stringify({
        database: { path: dbPath },
        airflow: { url: fake.url, apiVersion: String(opts.airflow), apiUser: 'admin', apiPassword: 'admin' },
        ...DEMO_SETTINGS,
      }),
    );
    const config = loadConfig({ file: cfgFile, env: {}, overrides: { server: { port: opts.port, host: '127.0.0.1', metricsPort: 0 }, logging: { level: 'warn' } } });
    // Errors only: the tutorial prints what happens itself.
    c = await buildContainer(config, { logger: createLogger('error') });
    const { secret } = await c.tokens.create('demo');
    try {
      svc = await startService(c);
    } catch (e) {
      if (e instanceof ListenError) throw new CliError(`port ${opts.port} is already in use (set by demo --port): choose another, or leave --port out for a free one`);
      throw e;
    }
    const out = (s: string) => process.stdout.write(s + '\n');
    out(`Fake Airflow ${opts.airflow}.x:  ${fake.url}  (API user admin / admin)`);
    out(`SCIM base URL:     ${svc.url}`);
    out(`Bearer token:      ${secret}`);
    out(`Metrics:           ${svc.metricsUrl}`);
    out(`Config, database:  ${cfgFile}, ${dbPath}`);
    out(`Try: curl -H "Authorization: Bearer ${secret}" ${svc.url}/Users`);

    if (opts.replay) await tutorial({ c, fake, svc, secret, out, cfgFile, replay: opts.replay, pause: !opts.exitAfter && process.stdin.isTTY === true });
    if (opts.exitAfter) return await stop();
    out('\nRunning. Ctrl-C to stop (the temporary folder is removed).');
    await new Promise<void>(() => undefined); // the signal handlers stop and exit
  } catch (e) {
    await stop();
    throw e;
  } finally {
    if (opts.exitAfter) {
      for (const sig of signals) process.off(sig, onSignal);
    }
  }
}

interface TutorialDeps {
  c: Container;
  fake: FakeAirflow;
  svc: RunningService;
  secret: string;
  out: (s: string) => void;
  cfgFile: string;
  replay: 'okta' | 'entra';
  pause: boolean;
}

async function tutorial(d: TutorialDeps): Promise<void> {
  const { c, fake, svc, secret, out } = d;
  const steps = d.replay === 'okta' ? OKTA : ENTRA;
  const ids = new Map<string, string>();
  const scim = (method: DemoStep['method'], p: string, body?: unknown) =>
    axios.request({ method, url: svc.url + p, data: body, headers: { Authorization: `Bearer ${secret}`, 'Content-Type': 'application/scim+json' }, validateStatus: () => true });
  const airflowUsers = () =>
    table(['USERNAME', 'EMAIL', 'ROLES'], fake.state.listUsers().map((u) => [u.username, u.email, u.roles.join(', ') || '(none)']));
  const phase = async (n: number, title: string) => {
    if (d.pause && n > 1) await pressEnter(out);
    out(`\n=== ${n}/4 ${title} ===`);
  };

  await phase(1, `Provisioning: ${d.replay === 'okta' ? 'Okta' : 'Entra'} pushes users and groups`);
  await replay(steps.filter((s) => s.phase !== 'deprovision'), scim, ids, out);
  // Three more engineers, so that phase 3 has people to lose.
  const extra = ['dave', 'erin', 'frank'];
  const extraIds: string[] = [];
  for (const n of extra) extraIds.push((await scim('POST', '/Users', { userName: `${n}@example.com`, name: { givenName: n, familyName: 'Demo' }, emails: [{ value: `${n}@example.com`, primary: true }], active: true })).data.id);
  const eng = (await scim('GET', `/Groups?filter=${encodeURIComponent('displayName eq "data-engineers"')}`)).data.Resources?.[0]?.id as string;
  await scim('PATCH', `/Groups/${eng}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'add', path: 'members', value: extraIds.map((value) => ({ value })) }] });
  out(`  the demo adds ${extra.join(', ')} to data-engineers`);
  await settled(c);
  out('\nAbout a second later, the reconciler has created them in Airflow:');
  out(airflowUsers());

  await phase(2, 'Deprovisioning: the IdP deactivates one user');
  await replay(steps.filter((s) => s.phase === 'deprovision'), scim, ids, out);
  await settled(c);
  out('\nThe account stays (Airflow cannot deactivate a user) but loses every role and gets a random password:');
  out(airflowUsers());

  await phase(3, 'A mass deprovision, held by the safety limits');
  for (const id of extraIds) await scim('PATCH', `/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', value: { active: false } }] });
  out(`  the IdP deactivates ${extra.join(', ')} at once (an assignment mistake?)`);
  await settled(c);
  const held = await serviceStatus({ driver: c.driver, tokenStore: c.tokenStore, store: c.store, state: c.state, airflow: c.airflow, logger: c.logger }, { probeAirflow: false });
  out(`\nsafety.maxDeprovisions is 2 per hour and one was used in phase 2, so every deprovision is held back.`);
  out(`status says: reconcile ${held.checks.reconcile.ok ? 'ok' : 'PROBLEM'}: ${held.checks.reconcile.detail}`);
  out(`/metrics says: reconcile_blocked ${/^reconcile_blocked (\S+)$/m.exec(await c.metrics.text())?.[1]}`);
  out(airflowUsers());

  await phase(4, 'An admin releases the held deprovisions');
  out(`  what an admin runs: airflow-scim reconcile --allow-mass-deprovision --config ${d.cfgFile}`);
  const released = await c.reconciler!.runOnce({ trigger: 'cli', allowMassDeprovision: true });
  await c.audit.record({ at: c.clock.now().toISOString(), source: 'admin', actor: 'demo', action: 'allow-mass-deprovision', outcome: 'success', detail: { result: released.result } });
  out(formatReport(released));
  out(`/metrics says: reconcile_blocked ${/^reconcile_blocked (\S+)$/m.exec(await c.metrics.text())?.[1]}`);
  out(airflowUsers());

  out('\nAudit trail (Airflow changes):');
  const entries = await c.audit.query({ source: 'airflow' });
  out(table(['TIME', 'ACTION', 'SUBJECT', 'OUTCOME'], entries.map((e) => [e.at, e.action, e.subject ?? '-', e.outcome])));
  const who = d.replay === 'okta' ? 'bob@example.com' : 'dana@example.com';
  out(`\nExplain a user against this demo (same database, same mapping): node dist/src/cli/main.js explain ${who} --config ${d.cfgFile}`);
}

async function replay(
  steps: DemoStep[],
  scim: (m: DemoStep['method'], p: string, body?: unknown) => Promise<{ status: number; data: { id?: string } }>,
  ids: Map<string, string>,
  out: (s: string) => void,
): Promise<void> {
  const fill = (s: string) => s.replace(/\{\{(user|group):([^}]+)\}\}/g, (_, _kind, name) => ids.get(name) ?? name);
  for (const step of steps) {
    const body = step.body === undefined ? undefined : JSON.parse(fill(JSON.stringify(step.body)));
    const res = await scim(step.method, fill(step.path), body);
    out(`  ${String(res.status).padEnd(4)} ${step.method.padEnd(6)} ${fill(step.path).slice(0, 60).padEnd(60)} ${step.say}`);
    if (step.save && res.data?.id) ids.set(step.save, res.data.id);
  }
}

/** Waits until a run has seen every SCIM change (event-free polling of the database; at most 10 s). */
async function settled(c: Container): Promise<void> {
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const last = await c.state.lastRun();
    if (last && last.seq >= (await c.store.latestSeq()) && last.result !== 'failed') return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function pressEnter(out: (s: string) => void): Promise<void> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
  try {
    await rl.question('\n(press Enter for the next step) ');
  } finally {
    rl.close();
  }
  out('');
}
