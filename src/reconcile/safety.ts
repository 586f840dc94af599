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
  /**
   * Decisions on held changes, by lower-cased username, only where they were made on the very change now planned
   * (`airflow-scim held approve|reject`): approved ones apply whatever the limits say, rejected ones are declined.
   */
  decisions?: ReadonlyMap<string, 'approve' | 'reject'>;
}

/** The user a risky action is about (lower-cased). */
export const riskyUser = (a: Action): string => ('username' in a ? a.username.toLowerCase() : '');

/** What identifies a held change: a decision applies to this change only, not to a later, different one. */
export function heldKey(a: Action): string {
  if (a.kind === 'deprovision-user') return JSON.stringify([a.kind, a.username.toLowerCase(), a.mode, a.rolesBefore]);
  if (a.kind === 'update-user') return JSON.stringify([a.kind, a.username.toLowerCase(), a.changes.roles ?? null]);
  return JSON.stringify([a.kind, riskyUser(a)]);
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
  const decided = (a: Action) => ctx.decisions?.get(riskyUser(a));
  const declined = plan.actions.filter((a) => isRisky(a) && decided(a) === 'reject');
  const approved = plan.actions.filter((a) => isRisky(a) && decided(a) === 'approve');
  const withDecisions = (v: SafetyVerdict): SafetyVerdict => (declined.length ? { ...v, declined } : v);
  const risky = plan.actions.filter((a) => isRisky(a) && decided(a) === undefined);
  const rest = plan.actions.filter((a) => !isRisky(a) || decided(a) === 'approve');
  const open = plan.actions.filter((a) => !declined.includes(a)); // plan order kept
  if (risky.length === 0 || ctx.allowMassDeprovision) return withDecisions({ allowed: open, held: [], blocked: null });
  return withDecisions(limitCheck(plan, ctx, risky, open, rest, approved));
}

function limitCheck(plan: Plan, ctx: SafetyContext, risky: Action[], open: Action[], rest: Action[], approvedActions: Action[]): SafetyVerdict {
  const approved = approvedActions.length;
  const { maxDeprovisions, maxDeprovisionPercent, window } = ctx.limits;
  const percentLimit = plan.managedUsers > 0 ? Math.ceil((plan.managedUsers * maxDeprovisionPercent) / 100) : -1;

  // Approved changes apply now, so they count too: the limits decide what else may go with them.
  const riskyUsers = [...risky, ...approvedActions].map(riskyUser);
  const total = ctx.windowUsers ? new Set([...ctx.windowUsers, ...riskyUsers]).size : ctx.windowCount + risky.length + approved;
  const reasons: string[] = [];
  if (total > maxDeprovisions) reasons.push(`more than safety.maxDeprovisions (${maxDeprovisions})`);
  if (percentLimit >= 0 && total > percentLimit) {
    reasons.push(`more than safety.maxDeprovisionPercent (${maxDeprovisionPercent}% of ${plan.managedUsers} managed users = ${percentLimit})`);
  }
  if (reasons.length === 0) return { allowed: open, held: [], blocked: null };

  const windowText = `${ctx.windowCount} already applied in the last ${formatWindow(window)}`;
  return {
    allowed: rest,
    held: risky,
    blocked: {
      reason: `${risky.length} deprovision(s)/role removal(s) held: with ${windowText} that makes ${total}${ctx.windowUsers ? ' user(s)' : ''}, ${reasons.join(' and ')}; ` +
        `approve or reject them one by one (airflow-scim held) or run with --allow-mass-deprovision to apply all${approved ? ` (${approved} approved one(s) apply)` : ''}`,
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
