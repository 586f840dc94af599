import { checkSafety, type SafetyContext } from '../../src/reconcile/safety';
import type { Action, Plan } from '../../src/reconcile/types';
import { desiredUser } from './helpers';

const deprovision = (u: string): Action => ({ kind: 'deprovision-user', username: u, mode: 'strip-roles', rolesBefore: ['Viewer'], adminRemoval: false, reason: 'gone' });
const demote = (u: string): Action => ({ kind: 'update-user', username: u, changes: { roles: { before: ['Admin'], after: ['Viewer'] } }, reason: 'r', adminRemoval: true });
const create = (u: string): Action => ({ kind: 'create-user', username: u, user: desiredUser(u, ['Viewer']), reason: 'r' });
const planOf = (actions: Action[], managedUsers: number): Plan => ({ actions, drift: [], unchanged: 0, managedUsers });
const ctx = (over: Partial<SafetyContext> = {}): SafetyContext => ({
  now: new Date('2026-01-01T00:00:00Z'),
  windowCount: 0,
  limits: { maxDeprovisions: 3, maxDeprovisionPercent: 50, window: 3_600_000 },
  allowMassDeprovision: false,
  ...over,
});

describe('checkSafety', () => {
  test.each([
    // [label, deprovisions in plan, windowCount, managedUsers, held?]
    ['within both limits', 2, 0, 10, false],
    ['count limit reached exactly', 3, 0, 10, false],
    ['count limit exceeded in one run', 4, 0, 10, true],
    ['count limit exceeded across runs in the window', 1, 3, 10, true],
    ['percent limit (ceil(5 × 50%) = 3) exceeded', 2, 2, 5, true],
    ['percent limit not applicable without managed users', 3, 0, 0, false],
  ])('%s', (_label, n, windowCount, managedUsers, held) => {
    const actions = [create('new'), ...Array.from({ length: n }, (_, i) => deprovision(`u${i}`))];
    const v = checkSafety(planOf(actions, managedUsers), ctx({ windowCount }));
    if (held) {
      expect(v.held).toEqual(actions.slice(1));
      expect(v.allowed).toEqual([actions[0]]);
      expect(v.blocked).toMatchObject({ deprovisions: n, windowCount, limit: 3 });
      expect(v.blocked?.reason).toContain(`makes ${n + windowCount}`);
    } else {
      expect(v).toEqual({ allowed: actions, held: [], blocked: null });
    }
  });

  test('admin removals count like deprovisions and are held together (never trimmed)', () => {
    const actions = [demote('a'), deprovision('b'), deprovision('c'), create('d')];
    const v = checkSafety(planOf(actions, 100), ctx({ windowCount: 2 }));
    expect(v.held).toEqual([actions[0], actions[1], actions[2]]);
    expect(v.allowed).toEqual([actions[3]]);
    expect(v.blocked).toEqual({ reason: expect.stringContaining('safety.maxDeprovisions (3)'), deprovisions: 3, windowCount: 2, limit: 3, percentLimit: 50 });
  });

  test('role removals (downgrades) count and are held with deprovisions; other updates are not', () => {
    const downgrade = (u: string): Action => ({ kind: 'update-user', username: u, changes: { roles: { before: ['User'], after: ['Viewer'] } }, reason: 'r', roleRemoval: true });
    const rename = (u: string): Action => ({ kind: 'update-user', username: u, changes: { lastName: { before: 'a', after: 'b' } }, reason: 'r' });
    const actions = [downgrade('a'), downgrade('b'), rename('c'), deprovision('d'), downgrade('e')];
    const v = checkSafety(planOf(actions, 100), ctx());
    expect(v.held).toEqual([actions[0], actions[1], actions[3], actions[4]]);
    expect(v.allowed).toEqual([actions[2]]);
    expect(v.blocked?.reason).toMatch(/^4 deprovision\(s\)\/role removal\(s\) held/);
  });

  test('with windowUsers the limits count people: a user in the window and in the plan counts once', () => {
    const downgrade = (u: string): Action => ({ kind: 'update-user', username: u, changes: { roles: { before: ['User'], after: [] } }, reason: 'r', roleRemoval: true });
    const actions = [deprovision('a'), deprovision('B')];
    expect(checkSafety(planOf(actions, 100), ctx({ windowCount: 2, windowUsers: new Set(['a', 'b']) })).blocked).toBeNull();
    const v = checkSafety(planOf([...actions, downgrade('c'), downgrade('d')], 100), ctx({ windowCount: 2, windowUsers: new Set(['a', 'b']) }));
    expect(v.blocked?.reason).toContain('that makes 4 user(s)');
  });

  test('the reason names the percent limit with figures', () => {
    const v = checkSafety(planOf([deprovision('a'), deprovision('b')], 2), ctx());
    expect(v.blocked?.reason).toContain('50% of 2 managed users = 1');
    expect(v.blocked?.reason).not.toContain('maxDeprovisions (3)');
  });

  test('allowMassDeprovision lets everything through', () => {
    const actions = Array.from({ length: 10 }, (_, i) => deprovision(`u${i}`));
    expect(checkSafety(planOf(actions, 10), ctx({ allowMassDeprovision: true, windowCount: 50 }))).toEqual({ allowed: actions, held: [], blocked: null });
  });

  test('maxDeprovisions 0 holds every deprovision', () => {
    const v = checkSafety(planOf([deprovision('a')], 100), ctx({ limits: { maxDeprovisions: 0, maxDeprovisionPercent: 100, window: 60_000 } }));
    expect(v.held).toHaveLength(1);
    expect(v.blocked?.reason).toContain('last 1m');
  });
});
