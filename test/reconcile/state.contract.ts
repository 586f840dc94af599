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

    test('own is an upsert keyed case-insensitively that keeps how and since', async () => {
      await s.own('Alice', 'created', 'scim-1', new Date('2026-01-01T00:00:00Z'));
      await s.own('alice', 'adopted', 'scim-2', new Date('2026-02-01T00:00:00Z'));
      await s.own('bob', 'adopted', null, new Date('2026-01-02T00:00:00Z'));
      expect(await s.owned()).toEqual([
        { username: 'Alice', how: 'created', scimUserId: 'scim-2', since: '2026-01-01T00:00:00.000Z' },
        { username: 'bob', how: 'adopted', scimUserId: null, since: '2026-01-02T00:00:00.000Z' },
      ]);
      await s.disown('ALICE');
      expect((await s.owned()).map((o) => o.username)).toEqual(['bob']);
    });

    test('ownership records the bound identity externalId; a re-own without one keeps it', async () => {
      await s.own('alice', 'created', 'scim-1', new Date('2026-01-01T00:00:00Z'), 'okta-1');
      await s.own('alice', 'created', 'scim-2', new Date('2026-01-02T00:00:00Z'));
      expect(await s.owned()).toEqual([{ username: 'alice', how: 'created', scimUserId: 'scim-2', externalId: 'okta-1', since: '2026-01-01T00:00:00.000Z' }]);
    });

    test('role removals count in the window like deprovisions', async () => {
      await s.recordDeprovision('a', 'role-removal', new Date('2026-01-01T10:00:00Z'));
      await s.recordDeprovision('b', 'deprovision', new Date('2026-01-01T10:00:00Z'));
      expect(await s.countDeprovisionsSince(new Date('2026-01-01T09:00:00Z'))).toBe(2);
      await s.recordDeprovision('A', 'deprovision', new Date('2026-01-01T11:00:00Z'));
      expect(await s.deprovisionedSince(new Date('2026-01-01T09:00:00Z'))).toEqual(['a', 'b']);
      expect(await s.deprovisionedSince(new Date('2026-01-01T10:30:00Z'))).toEqual(['a']);
    });

    test('deprovision events are counted from a point in time (inclusive)', async () => {
      await s.recordDeprovision('a', 'deprovision', new Date('2026-01-01T10:00:00Z'));
      await s.recordDeprovision('b', 'admin-removal', new Date('2026-01-01T11:00:00Z'));
      await s.recordDeprovision('c', 'deprovision', new Date('2026-01-01T12:00:00Z'));
      expect(await s.countDeprovisionsSince(new Date('2026-01-01T11:00:00Z'))).toBe(2);
      expect(await s.countDeprovisionsSince(new Date('2026-01-01T12:00:01Z'))).toBe(0);
    });

    test('runs are saved with ids; lastRun skips dry runs unless asked', async () => {
      expect(await s.lastRun()).toBeUndefined();
      const id1 = await s.saveRun(report());
      const id2 = await s.saveRun(report({ dryRun: true, result: 'planned', seq: 9 }));
      expect(id2).toBeGreaterThan(id1);
      expect(await s.lastRun()).toEqual({ ...report(), id: id1 });
      expect(await s.lastRun({ includeDryRun: true })).toMatchObject({ id: id2, result: 'planned', seq: 9 });
    });

    test('lastRun by origin: cli runs (trigger cli) apart from the service\'s', async () => {
      const svc = await s.saveRun(report({ trigger: 'schedule', origin: 'service' }));
      const cli = await s.saveRun(report({ trigger: 'cli', origin: 'cli', result: 'failed' }));
      await s.saveRun(report({ trigger: 'cli', origin: 'cli', dryRun: true, result: 'planned' }));
      expect((await s.lastRun({ origin: 'service' }))?.id).toBe(svc);
      expect(await s.lastRun({ origin: 'cli' })).toMatchObject({ id: cli, result: 'failed' });
      expect((await s.lastRun({ origin: 'cli', includeDryRun: true }))?.result).toBe('planned');
      expect((await s.lastRun())?.id).toBe(cli);
      expect(await s.lastRun({ origin: 'cli', ok: true })).toBeUndefined();
      expect((await s.lastRun({ ok: true }))?.id).toBe(svc);
    });

    test('kv get, set, overwrite, delete', async () => {
      expect(await s.getKv('blocked')).toBeUndefined();
      await s.setKv('blocked', '{"a":1}');
      await s.setKv('blocked', '{"a":2}');
      expect(await s.getKv('blocked')).toBe('{"a":2}');
      await s.setKv('blocked', null);
      expect(await s.getKv('blocked')).toBeUndefined();
    });
  });
}
