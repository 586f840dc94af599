import type { RunReport } from '../../src/reconcile/types';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import { SqliteReconcileState } from '../../src/store/sqlite-reconcile-state';
import { openDatabase } from '../../src/store/database';
import { runReconcileStateContract } from './state.contract';

runReconcileStateContract('memory', () => new MemoryReconcileState<RunReport>());
runReconcileStateContract('sqlite', () => new SqliteReconcileState<RunReport>(openDatabase(':memory:')));
