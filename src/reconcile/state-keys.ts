import { z } from 'zod';
import { createLogger, type Logger } from '../logger';
import type { IdentityStore } from '../store/types';
import type { ReconcileState } from './state';
import type { SafetyVerdict } from './types';

/**
 * The reconciler's keyed values (ReconcileState getKv/setKv), each with one typed accessor: the only code that reads
 * or writes its key. A stored value that does not parse or match its schema is treated as absent, with a warning:
 * the next run recomputes it (STYLE habit 8), so a corrupt row never stops the service.
 */
export interface StateKey<T> {
  readonly key: string;
  /** The stored value, or undefined when absent or corrupt. */
  read(state: Pick<ReconcileState, 'getKv'>, log?: Pick<Logger, 'warn'>): Promise<T | undefined>;
  /** undefined, or a value the key counts as empty, deletes the key. */
  write(state: Pick<ReconcileState, 'setKv'>, value: T | undefined): Promise<void>;
}

let fallback: Logger | undefined;
/** For readers given no logger (a caller that has none): warnings still reach stderr. */
const fallbackLog = (): Logger => (fallback ??= createLogger('warn'));

function stateKey<S extends z.ZodType>(key: string, schema: S, empty: (v: z.output<S>) => boolean = () => false): StateKey<z.output<S>> {
  return {
    key,
    async read(state, log) {
      const raw = await state.getKv(key);
      if (raw === undefined) return undefined;
      let problem: string;
      try {
        const parsed = schema.safeParse(JSON.parse(raw));
        if (parsed.success) return parsed.data;
        problem = z.prettifyError(parsed.error);
      } catch (e) {
        problem = (e as Error).message;
      }
      (log ?? fallbackLog()).warn('ignoring a corrupt reconcile state value; the next run rewrites it', { key, problem });
      return undefined;
    },
    write: (state, value) => state.setKv(key, value === undefined || empty(value) ? null : JSON.stringify(value)),
  };
}

const blockedSchema = z.object({
  at: z.string(),
  reason: z.string(),
  deprovisions: z.number(),
  windowCount: z.number(),
  limit: z.number(),
  percentLimit: z.number(),
  /** Held usernames (or role names), in plan order. */
  held: z.array(z.string()),
  /** Per held user (lower-cased): what is held (heldKey) and a readable description. Absent in rows from before it. */
  heldChanges: z.record(z.string(), z.object({ key: z.string(), change: z.string() })).optional(),
});
/** The held verdict while the safety limits hold changes back (status, /readyz, `airflow-scim held`). */
export type BlockedView = z.output<typeof blockedSchema>;
// The schema keeps every field of the safety verdict's block: a field added there and not here fails to compile.
const _blockedKeepsVerdict = (b: BlockedView): NonNullable<SafetyVerdict['blocked']> => b;
export const blockedKey = stateKey('blocked', blockedSchema);

/** {at, seq} of the last run that applied everything it was allowed to; seq is absent in rows from before it. */
export const lastSuccessKey = stateKey('lastSuccess', z.object({ at: z.string(), seq: z.number().default(0) }));

/** The username collisions of the last full run, so each is audited when it appears, not on every run. */
export const collisionsKey = stateKey('collisions', z.array(z.string()), (v) => v.length === 0);

const heldDecisionSchema = z.object({
  decision: z.enum(['approve', 'reject']),
  /** heldKey() of the change decided on: the decision holds for that change only. */
  key: z.string(),
  by: z.string(),
  at: z.string(),
});
export type HeldDecision = z.output<typeof heldDecisionSchema>;
/** Operators' decisions on held changes (airflow-scim held approve|reject), by lower-cased username. */
export const heldDecisionsKey = stateKey('heldDecisions', z.record(z.string(), heldDecisionSchema), (v) => Object.keys(v).length === 0);

/**
 * SCIM changes (journal entries) not yet covered by a run that applied everything it was allowed to. Read from the
 * database, so a run in any process (service or CLI) shows at once in `status`, /readyz and /metrics.
 */
export async function pendingChanges(store: Pick<IdentityStore, 'latestSeq'>, state: Pick<ReconcileState, 'getKv'>, log?: Pick<Logger, 'warn'>): Promise<number> {
  return Math.max(0, (await store.latestSeq()) - ((await lastSuccessKey.read(state, log))?.seq ?? 0));
}
