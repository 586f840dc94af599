import path from 'node:path';
import { parseConfig } from '../../src/config/load';
import { startFakeAirflow, type FakeAirflow } from '../../dev/fake-airflow/fake-airflow';
import { silentLogger } from '../../src/logger';
import { buildContainer, type Container } from '../../src/server/container';
import { serviceStatus } from '../../src/server/status';
import { formatReport } from '../../src/cli/format';
import type { RunReport } from '../../src/reconcile/types';
import { tempDir } from '../support/processes';

const ctx = { actor: 'test' };
const gauge = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);

/**
 * The service and a CLI run are two containers on one database file, as in production: what one run changes, the
 * other's /metrics and status follow at once.
 */
describe('status, metrics and the last run agree across processes', () => {
  let fake: FakeAirflow;
  let service: Container;
  let cli: Container;
  beforeEach(async () => {
    fake = await startFakeAirflow({ version: 3 });
    const config = parseConfig({
      database: { path: path.join(tempDir('view-'), 'scim.db') },
      airflow: { url: fake.url, apiVersion: '3', apiUser: 'admin', apiPassword: 'admin', retries: 0, timeout: '2s' },
      roles: { mappings: [{ group: 'eng', roles: ['User'] }] },
      safety: { maxDeprovisions: 1, maxDeprovisionPercent: 100 },
    });
    service = await buildContainer(config, { logger: silentLogger() });
    cli = await buildContainer(config, { logger: silentLogger(), origin: 'cli' });
  });
  afterEach(async () => {
    await service.close();
    await cli.close();
    await fake.close();
  });

  const statusOf = (c: Container) => serviceStatus({ driver: c.driver, tokenStore: c.tokenStore, store: c.store, state: c.state, airflow: c.airflow }, { probeAirflow: false });

  test('a CLI --allow-mass-deprovision run clears reconcile_blocked in the service at once; a failed CLI run is not the service\'s problem', async () => {
    const ids: string[] = [];
    for (const n of ['a', 'b', 'c']) ids.push((await service.store.createUser({ userName: n, active: true, emails: [{ value: `${n}@x.io`, primary: true }], name: { givenName: n, familyName: 'X' } }, ctx)).id);
    await service.store.createGroup({ displayName: 'eng' }, ids, ctx);
    expect((await service.reconciler!.runOnce({ trigger: 'startup' })).result).toBe('applied');
    for (const id of ids) await service.store.updateUser(id, (u) => ({ ...u.data, active: false }), ctx);
    expect((await service.reconciler!.runOnce({ trigger: 'change' })).result).toBe('blocked');
    expect(gauge(await service.metrics.text(), 'reconcile_blocked')).toBe(1);

    const forced = await cli.reconciler!.runOnce({ trigger: 'cli', allowMassDeprovision: true });
    expect(forced).toMatchObject({ result: 'applied', origin: 'cli', trigger: 'cli' });
    expect(gauge(await service.metrics.text(), 'reconcile_blocked')).toBe(0);
    expect((await statusOf(service)).checks.reconcile.ok).toBe(true);

    // A one-off CLI run that fails (Airflow down) is reported, but does not turn the service's view to PROBLEM.
    await service.store.createUser({ userName: 'd', active: true }, ctx);
    await fake.setDown(true);
    const failed = await cli.reconciler!.runOnce({ trigger: 'cli' });
    expect(failed.result).toBe('failed');
    const s = await statusOf(service);
    expect(s.checks.reconcile).toMatchObject({ ok: true, detail: expect.stringMatching(/last run applied .*cli/) });
    expect(s.lastCliRun).toMatchObject({ result: 'failed', error: expect.stringMatching(/unreachable/) });

    // One definition of pending changes: status and /metrics say the same number.
    expect(s.pendingChanges).toBeGreaterThan(0);
    expect(gauge(await service.metrics.text(), 'reconcile_pending_changes')).toBe(s.pendingChanges);
  });

  test('after a failed service run, status and /metrics agree on pending changes and status says why', async () => {
    await service.store.createUser({ userName: 'x', active: true }, ctx);
    await service.store.createUser({ userName: 'y', active: true }, ctx);
    await fake.setDown(true);
    const r = await service.reconciler!.runOnce({ trigger: 'schedule' });
    expect(r.result).toBe('failed');
    const s = await statusOf(service);
    expect(s.pendingChanges).toBe(2);
    expect(gauge(await service.metrics.text(), 'reconcile_pending_changes')).toBe(2);
    expect(s.checks.reconcile).toMatchObject({ ok: false, detail: expect.stringMatching(/last run failed .*unreachable/) });
  });
});

describe('formatReport never says "nothing to do" for a failed or partial run', () => {
  const base: RunReport = {
    trigger: 'cli',
    origin: 'cli',
    dryRun: false,
    started: '2026-01-01T00:00:00.000Z',
    finished: '2026-01-01T00:00:01.000Z',
    result: 'failed',
    seq: 3,
    plan: { actions: [], drift: [], unchanged: 0, managedUsers: 0 },
    verdict: { allowed: [], held: [], blocked: null },
    outcomes: [],
    error: 'Airflow at http://af is unreachable (ECONNREFUSED)',
  };
  test('failed: why, and no plan claim', () => {
    const text = formatReport(base);
    expect(text).not.toMatch(/nothing to do/);
    expect(text).toMatch(/the run failed before a plan was made: Airflow at http:\/\/af is unreachable/);
  });
});
