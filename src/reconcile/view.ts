import type { IdentityStore } from '../store/types';
import type { ReconcileState } from './state';

/** kv keys (ReconcileState). */
export const KV_BLOCKED = 'blocked';
export const KV_LAST_SUCCESS = 'lastSuccess';
/** Operators' decisions on held changes (airflow-scim held approve|reject), by lower-cased username. */
export const KV_HELD_DECISIONS = 'heldDecisions';

export interface HeldDecision {
  decision: 'approve' | 'reject';
  /** heldKey() of the change decided on: the decision holds for that change only. */
  key: string;
  by: string;
  at: string;
}

export async function heldDecisions(state: Pick<ReconcileState, 'getKv'>): Promise<Record<string, HeldDecision>> {
  const raw = await state.getKv(KV_HELD_DECISIONS);
  return raw ? (JSON.parse(raw) as Record<string, HeldDecision>) : {};
}

export async function saveHeldDecisions(state: Pick<ReconcileState, 'setKv'>, decisions: Record<string, HeldDecision>): Promise<void> {
  await state.setKv(KV_HELD_DECISIONS, Object.keys(decisions).length ? JSON.stringify(decisions) : null);
}

export interface BlockedView {
  at: string;
  reason: string;
  held: string[];
  /** Per held user (lower-cased): what is held (heldKey) and a readable description. */
  heldChanges?: Record<string, { key: string; change: string }>;
  [k: string]: unknown;
}

/**
 * What every process sees of the reconciler, read from the database so that a run in any process (service or CLI)
 * shows at once in `status`, /readyz and /metrics. One definition each.
 */
export async function lastSuccess(state: Pick<ReconcileState, 'getKv'>): Promise<{ at: string; seq: number } | undefined> {
  const raw = await state.getKv(KV_LAST_SUCCESS);
  if (!raw) return undefined;
  const v = JSON.parse(raw) as { at: string; seq?: number };
  return { at: v.at, seq: v.seq ?? 0 };
}

/** SCIM changes (journal entries) not yet covered by a run that applied everything it was allowed to. */
export async function pendingChanges(store: Pick<IdentityStore, 'latestSeq'>, state: Pick<ReconcileState, 'getKv'>): Promise<number> {
  return Math.max(0, (await store.latestSeq()) - ((await lastSuccess(state))?.seq ?? 0));
}

/** The held verdict while the safety limits hold deprovisions back. */
export async function blockedView(state: Pick<ReconcileState, 'getKv'>): Promise<BlockedView | undefined> {
  const raw = await state.getKv(KV_BLOCKED);
  return raw ? (JSON.parse(raw) as BlockedView) : undefined;
}
