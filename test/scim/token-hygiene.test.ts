/** Issue 12, token hygiene: expiry exported as a metric; status warns before expiry and about idle tokens. */
import { Metrics } from '../../src/metrics';
import { tokenWarnings } from '../../src/scim/tokens';
import { serviceStatus } from '../../src/server/status';
import { openDatabase } from '../../src/store/database';
import { MemoryIdentityStore } from '../../src/store/memory-identity';
import { MemoryAuditLog } from '../../src/store/memory-audit';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import { SqlTokenStore } from '../../src/store/sql/tokens';
import type { RunReport } from '../../src/reconcile/types';
import { sqliteDriverFor } from '../../src/store/sql/sqlite-driver';

const now = new Date('2026-12-02T00:00:00Z');
const days = (n: number): string => new Date(now.getTime() + n * 86_400_000).toISOString();

test('tokenWarnings: expiring within 14 days, unused for 30 days; revoked and expired tokens say nothing', () => {
  const w = tokenWarnings(
    [
      { name: 'soon', created: days(-5), lastUsed: days(-1), expiresAt: days(10) },
      { name: 'later', created: days(-5), lastUsed: days(-1), expiresAt: days(20) },
      { name: 'idle', created: days(-40), lastUsed: days(-31) },
      { name: 'never-used', created: days(-30) },
      { name: 'fresh', created: days(-29) },
      { name: 'revoked', created: days(-90), revokedAt: days(-1) },
      { name: 'expired', created: days(-90), expiresAt: days(-1) },
    ],
    now,
  );
  expect(w).toEqual([
    expect.stringMatching(/^token "soon" expires in 10 day\(s\)/),
    expect.stringMatching(/^token "idle" has not been used for 31 days \(last used/),
    expect.stringMatching(/^token "never-used" has not been used for 30 days \(never used\)/),
  ]);
});

test('scim_token_expiry_timestamp_seconds{name} is exported for each active token with an expiry', async () => {
  const m = new Metrics({ defaultMetrics: false });
  m.setStateSource(async () => ({ pending: 0, blocked: false, tokens: [{ name: 'okta', expiresAt: '2027-03-01T00:00:00.000Z' }, { name: 'forever' }] }));
  const text = await m.text();
  expect(text).toContain(`scim_token_expiry_timestamp_seconds{name="okta"} ${Date.parse('2027-03-01T00:00:00.000Z') / 1000}`);
  expect(text).not.toContain('name="forever"');
});

test('status carries the warnings, and they never fail a check', async () => {
  const db = openDatabase(':memory:');
  try {
    const driver = sqliteDriverFor(db);
    const tokens = new SqlTokenStore(driver);
    const soon = new Date(Date.now() + 3 * 86_400_000).toISOString();
    await tokens.create({ name: 'entra', hash: 'a'.repeat(64), created: new Date().toISOString(), expiresAt: soon });
    const s = await serviceStatus({ driver, tokenStore: tokens, store: new MemoryIdentityStore(new MemoryAuditLog()), state: new MemoryReconcileState<RunReport>(), airflow: null }, { probeAirflow: false });
    expect(s.warnings).toEqual([expect.stringMatching(/^token "entra" expires in 3 day\(s\)/)]);
    expect(Object.values(s.checks).every((c) => c.ok)).toBe(true);
  } finally {
    db.close();
  }
});
