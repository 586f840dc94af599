import type { SafetyConfig } from '../config/schema';
import type { Action, Plan, SafetyVerdict } from './types';

export interface SafetyContext {
  now: Date;
  /** Deprovisions, admin and role removals already applied within limits.window (ReconcileState.countDeprovisionsSince). */
  windowCount: number;
  /**
   * The users behind windowCount (ReconcileState.deprovisionedSince). When given, the limits count people: a user
   * already counted in the window, or held twice, counts once.
   */
  windowUsers?: ReadonlySet<string>;
  limits: Pick<SafetyConfig, 'maxDeprovisions' | 'maxDeprovisionPercent' | 'window'>;
  /** The operator confirmed (CLI --allow-mass-deprovision): nothing is held. */
  allowMassDeprovision: boolean;
}

/**
 * The destructive actions the limits count (README "Safety window"): deprovisions, updates that take Admin away,
 * and role removals (an update that removes a role and grants none through a group mapping).
 */
export function isRisky(a: Action): boolean {
  return a.kind === 'deprovision-user' || (a.kind === 'update-user' && (a.adminRemoval === true || a.roleRemoval === true));
}

/**
 * The safety step (pure; gitops-engine "prune needs confirmation"). IdPs deprovision one user per request, so
 * the limits count across runs inside the sliding window. When a limit trips, every risky action is held (never
 * a trimmed subset) and the rest is allowed. percentLimit is -1 when there are no managed users yet.
 */
export function checkSafety(plan: Plan, ctx: SafetyContext): SafetyVerdict {
  const risky = plan.actions.filter(isRisky);
  const rest = plan.actions.filter((a) => !isRisky(a));
  const { maxDeprovisions, maxDeprovisionPercent, window } = ctx.limits;
  const percentLimit = plan.managedUsers > 0 ? Math.ceil((plan.managedUsers * maxDeprovisionPercent) / 100) : -1;
  if (risky.length === 0 || ctx.allowMassDeprovision) return { allowed: plan.actions, held: [], blocked: null };

  const riskyUsers = risky.map((a) => ('username' in a ? a.username.toLowerCase() : ''));
  const total = ctx.windowUsers ? new Set([...ctx.windowUsers, ...riskyUsers]).size : ctx.windowCount + risky.length;
  const reasons: string[] = [];
  if (total > maxDeprovisions) reasons.push(`more than safety.maxDeprovisions (${maxDeprovisions})`);
  if (percentLimit >= 0 && total > percentLimit) {
    reasons.push(`more than safety.maxDeprovisionPercent (${maxDeprovisionPercent}% of ${plan.managedUsers} managed users = ${percentLimit})`);
  }
  if (reasons.length === 0) return { allowed: plan.actions, held: [], blocked: null };

  const windowText = `${ctx.windowCount} already applied in the last ${formatWindow(window)}`;
  return {
    allowed: rest,
    held: risky,
    blocked: {
      reason: `${risky.length} deprovision(s)/role removal(s) held: with ${windowText} that makes ${total}${ctx.windowUsers ? ' user(s)' : ''}, ${reasons.join(' and ')}; run with --allow-mass-deprovision to apply`,
      deprovisions: risky.length,
      windowCount: ctx.windowCount,
      limit: maxDeprovisions,
      percentLimit,
    },
  };
}

function formatWindow(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}
