/** The identity store contract on PostgreSQL: one schema for the file, emptied before each test (pg-schema.ts). */
import { ManualClock } from '../../src/core/clock';
import { SqlAuditLog } from '../../src/store/sql/audit';
import { SqlIdentityStore } from '../../src/store/sql/identity';
import { runIdentityStoreContract } from '../contract/identity-store.contract';
import { pgSchemaPerBlock } from '../support/pg-schema';

describe('PostgreSQL', () => {
  const pg = pgSchemaPerBlock();
  runIdentityStoreContract('SqlIdentityStore on PostgreSQL', () => {
    const driver = pg.schema().driver(); // closed by the contract's store.close()
    const clock = new ManualClock();
    let n = 0;
    return { store: new SqlIdentityStore(driver, clock, () => `id-${String(++n).padStart(4, '0')}`), audit: new SqlAuditLog(driver), clock };
  });
});
