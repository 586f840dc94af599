import type { ReconcileState } from '../../src/reconcile/state';
import type { RunReport } from '../../src/reconcile/types';

const report = (over: Partial<RunReport> = {}): RunReport => ({
  trigger: 'schedule',
  dryRun: false,
  started: '2026-01-01T00:00:00.000Z',
  finished: '2026-01-01T00:00:01.000Z',
  result: 'applied',
  seq: 7,
  plan: { actions: [], drift: [], unchanged: 2, managedUsers: 2 },
  verdict: { allowed: [], held: [], blocked: null },
  outcomes: [],
  ...over,
});

/** The behaviour every ReconcileState must share (STYLE habit 1). */
export function runReconcileStateContract(name: string, make: () => ReconcileState): void {
  describe(`ReconcileState contract: ${name}`, () => {
    let s: ReconcileState;
    beforeEach(() => {
      s = make();
    });

    test('own is an upsert keyed case-insensitively that keeps how and since', () => {
      s.own('Alice', 'created', 'scim-1', new Date('2026-01-01T00:00:00Z'));
      s.own('alice', 'adopted', 'scim-2', new Date('2026-02-01T00:00:00Z'));
      s.own('bob', 'adopted', null, new Date('2026-01-02T00:00:00Z'));
      expect(s.owned()).toEqual([
        { username: 'Alice', how: 'created', scimUserId: 'scim-2', since: '2026-01-01T00:00:00.000Z' },
        { username: 'bob', how: 'adopted', scimUserId: null, since: '2026-01-02T00:00:00.000Z' },
      ]);
      s.disown('ALICE');
      expect(s.owned().map((o) => o.username)).toEqual(['bob']);
    });

    test('ownership records the bound identity externalId; a re-own without one keeps it', () => {
      s.own('alice', 'created', 'scim-1', new Date('2026-01-01T00:00:00Z'), 'okta-1');
      s.own('alice', 'created', 'scim-2', new Date('2026-01-02T00:00:00Z'));
      expect(s.owned()).toEqual([{ username: 'alice', how: 'created', scimUserId: 'scim-2', externalId: 'okta-1', since: '2026-01-01T00:00:00.000Z' }]);
    });

    test('role removals count in the window like deprovisions', () => {
      s.recordDeprovision('a', 'role-removal', new Date('2026-01-01T10:00:00Z'));
      s.recordDeprovision('b', 'deprovision', new Date('2026-01-01T10:00:00Z'));
      expect(s.countDeprovisionsSince(new Date('2026-01-01T09:00:00Z'))).toBe(2);
      s.recordDeprovision('A', 'deprovision', new Date('2026-01-01T11:00:00Z'));
      expect(s.deprovisionedSince(new Date('2026-01-01T09:00:00Z'))).toEqual(['a', 'b']);
      expect(s.deprovisionedSince(new Date('2026-01-01T10:30:00Z'))).toEqual(['a']);
    });

    test('deprovision events are counted from a point in time (inclusive)', () => {
      s.recordDeprovision('a', 'deprovision', new Date('2026-01-01T10:00:00Z'));
      s.recordDeprovision('b', 'admin-removal', new Date('2026-01-01T11:00:00Z'));
      s.recordDeprovision('c', 'deprovision', new Date('2026-01-01T12:00:00Z'));
      expect(s.countDeprovisionsSince(new Date('2026-01-01T11:00:00Z'))).toBe(2);
      expect(s.countDeprovisionsSince(new Date('2026-01-01T12:00:01Z'))).toBe(0);
    });

    test('runs are saved with ids; lastRun skips dry runs unless asked', () => {
      expect(s.lastRun()).toBeUndefined();
      const id1 = s.saveRun(report());
      const id2 = s.saveRun(report({ dryRun: true, result: 'planned', seq: 9 }));
      expect(id2).toBeGreaterThan(id1);
      expect(s.lastRun()).toEqual({ ...report(), id: id1 });
      expect(s.lastRun({ includeDryRun: true })).toMatchObject({ id: id2, result: 'planned', seq: 9 });
    });

    test('lastRun by origin: cli runs (trigger cli) apart from the service\'s', () => {
      const svc = s.saveRun(report({ trigger: 'schedule', origin: 'service' }));
      const cli = s.saveRun(report({ trigger: 'cli', origin: 'cli', result: 'failed' }));
      s.saveRun(report({ trigger: 'cli', origin: 'cli', dryRun: true, result: 'planned' }));
      expect(s.lastRun({ origin: 'service' })?.id).toBe(svc);
      expect(s.lastRun({ origin: 'cli' })).toMatchObject({ id: cli, result: 'failed' });
      expect(s.lastRun({ origin: 'cli', includeDryRun: true })?.result).toBe('planned');
      expect(s.lastRun()?.id).toBe(cli);
      expect(s.lastRun({ origin: 'cli', ok: true })).toBeUndefined();
      expect(s.lastRun({ ok: true })?.id).toBe(svc);
    });

    test('kv get, set, overwrite, delete', () => {
      expect(s.getKv('blocked')).toBeUndefined();
      s.setKv('blocked', '{"a":1}');
      s.setKv('blocked', '{"a":2}');
      expect(s.getKv('blocked')).toBe('{"a":2}');
      s.setKv('blocked', null);
      expect(s.getKv('blocked')).toBeUndefined();
    });
  });
}
