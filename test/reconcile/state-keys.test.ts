import type { Logger } from '../../src/logger';
import { blockedKey, collisionsKey, heldDecisionsKey, lastSuccessKey, pendingChanges, type BlockedView } from '../../src/reconcile/state-keys';
import type { ReconcileState } from '../../src/reconcile/state';
import type { RunReport } from '../../src/reconcile/types';
import { openDatabase } from '../../src/store/database';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import { SqlReconcileState } from '../../src/store/sql/reconcile-state';
import { sqliteDriverFor } from '../../src/store/sql/sqlite-driver';

/** A logger that keeps its warnings. */
function recorder(): { log: Pick<Logger, 'warn'>; warnings: unknown[][] } {
  const warnings: unknown[][] = [];
  return { log: { warn: (...args: unknown[]) => warnings.push(args) } as unknown as Pick<Logger, 'warn'>, warnings };
}

const blocked: BlockedView = {
  at: '2026-12-01T10:00:00.000Z',
  reason: '3 deprovisions in 1h exceed safety.maxDeprovisions (2)',
  deprovisions: 3,
  windowCount: 0,
  limit: 2,
  percentLimit: 100,
  held: ['u1', 'u2', 'u3'],
  heldChanges: { u1: { key: 'deprovision u1', change: 'strip roles [User]: inactive' } },
};

describe.each([
  ['memory', () => new MemoryReconcileState<RunReport>()],
  ['sqlite', () => new SqlReconcileState<RunReport>(sqliteDriverFor(openDatabase(':memory:')))],
])('reconcile state keys (%s store)', (_name, make: () => ReconcileState) => {
  let state: ReconcileState;
  beforeEach(() => {
    state = make();
  });

  test('each key reads back what was written, and an absent key reads undefined', async () => {
    const { log, warnings } = recorder();
    for (const k of [blockedKey, lastSuccessKey, collisionsKey, heldDecisionsKey]) expect(await k.read(state, log)).toBeUndefined();
    await blockedKey.write(state, blocked);
    await lastSuccessKey.write(state, { at: '2026-12-01T10:00:00.000Z', seq: 42 });
    await collisionsKey.write(state, ['alice scim-1 scim-2']);
    await heldDecisionsKey.write(state, { u1: { decision: 'reject', key: 'deprovision u1', by: 'ops', at: '2026-12-01T10:05:00.000Z' } });
    expect(await blockedKey.read(state, log)).toEqual(blocked);
    expect(await lastSuccessKey.read(state, log)).toEqual({ at: '2026-12-01T10:00:00.000Z', seq: 42 });
    expect(await collisionsKey.read(state, log)).toEqual(['alice scim-1 scim-2']);
    expect(await heldDecisionsKey.read(state, log)).toEqual({ u1: { decision: 'reject', key: 'deprovision u1', by: 'ops', at: '2026-12-01T10:05:00.000Z' } });
    expect(warnings).toEqual([]);
  });

  test('undefined, or an empty list or map, deletes the key', async () => {
    await blockedKey.write(state, blocked);
    await collisionsKey.write(state, ['alice scim-1 scim-2']);
    await heldDecisionsKey.write(state, { u1: { decision: 'approve', key: 'k', by: 'ops', at: 'now' } });
    await blockedKey.write(state, undefined);
    await collisionsKey.write(state, []);
    await heldDecisionsKey.write(state, {});
    for (const k of ['blocked', 'collisions', 'heldDecisions']) expect(await state.getKv(k)).toBeUndefined();
  });

  test('a corrupt value reads as absent, with a warning naming the key', async () => {
    const { log, warnings } = recorder();
    await state.setKv(blockedKey.key, '{"at": "2026-12-01T10:00:00.000Z", "held": "u1"'); // cut short: not JSON
    await state.setKv(lastSuccessKey.key, '{"seq": 7}'); // JSON, but no `at`
    await state.setKv(collisionsKey.key, '[1, 2]');
    await state.setKv(heldDecisionsKey.key, '{"u1": {"decision": "maybe", "key": "k", "by": "ops", "at": "now"}}');
    expect(await blockedKey.read(state, log)).toBeUndefined();
    expect(await lastSuccessKey.read(state, log)).toBeUndefined();
    expect(await collisionsKey.read(state, log)).toBeUndefined();
    expect(await heldDecisionsKey.read(state, log)).toBeUndefined();
    expect(warnings.map(([, meta]) => (meta as { key: string }).key)).toEqual(['blocked', 'lastSuccess', 'collisions', 'heldDecisions']);
    expect(warnings[0][0]).toMatch(/corrupt reconcile state value/);
    // A corrupt lastSuccess counts every change as pending, as if no run had succeeded.
    expect(await pendingChanges({ latestSeq: async () => 9 }, state, log)).toBe(9);
  });

  test('rows written before a field existed still read: lastSuccess without seq, blocked without heldChanges', async () => {
    const { log, warnings } = recorder();
    await state.setKv('lastSuccess', '{"at": "2026-11-01T00:00:00.000Z"}');
    const { heldChanges: _, ...older } = blocked;
    await state.setKv('blocked', JSON.stringify(older));
    expect(await lastSuccessKey.read(state, log)).toEqual({ at: '2026-11-01T00:00:00.000Z', seq: 0 });
    expect(await blockedKey.read(state, log)).toEqual(older);
    expect(warnings).toEqual([]);
  });
});
