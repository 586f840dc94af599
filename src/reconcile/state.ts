import type { OwnershipRecord, ReconcileState as StoredState } from '../store/reconcile-state';
import type { RunReport } from './types';

export type { DeprovisionKind, LastRunQuery, OwnershipRecord } from '../store/reconcile-state';

/** The reconciler's state (ownership, deprovision events, runs, kv), kept by the store with RunReport as the run record. */
export type ReconcileState = StoredState<RunReport>;

/** Lower-cased username → record, the shape plan() takes. */
export async function ownershipMap(state: Pick<ReconcileState, 'owned'>): Promise<Map<string, OwnershipRecord>> {
  return new Map((await state.owned()).map((r) => [r.username.toLowerCase(), r]));
}
