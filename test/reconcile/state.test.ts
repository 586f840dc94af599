import { MemoryReconcileState } from '../../src/reconcile/memory-state';
import { SqliteReconcileState } from '../../src/reconcile/sqlite-state';
import { openDatabase } from '../../src/store/database';
import { runReconcileStateContract } from './state.contract';

runReconcileStateContract('memory', () => new MemoryReconcileState());
runReconcileStateContract('sqlite', () => new SqliteReconcileState(openDatabase(':memory:')));
