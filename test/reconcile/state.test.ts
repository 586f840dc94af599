import type { RunReport } from '../../src/reconcile/types';
import { MemoryReconcileState } from '../../src/store/memory-reconcile-state';
import { SqlReconcileState } from '../../src/store/sql/reconcile-state';
import { openDatabase } from '../../src/store/database';
import { runReconcileStateContract } from './state.contract';
import { sqliteDriverFor } from '../../src/store/sql/sqlite-driver';
import { pgSchemaPerBlock } from '../support/pg-schema';

runReconcileStateContract('memory', () => new MemoryReconcileState<RunReport>());
runReconcileStateContract('sqlite', () => new SqlReconcileState<RunReport>(sqliteDriverFor(openDatabase(':memory:'))));
describe('PostgreSQL', () => {
  const pg = pgSchemaPerBlock();
  runReconcileStateContract('postgres', () => new SqlReconcileState<RunReport>(pg.shared()));
});
