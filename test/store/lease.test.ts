import { openDatabase } from '../../src/store/database';
import { MemoryLeaseStore } from '../../src/store/memory-lease';
import { SqliteLeaseStore } from '../../src/store/sqlite-lease';
import { runLeaseStoreContract } from './lease.contract';

runLeaseStoreContract('memory', () => new MemoryLeaseStore());
runLeaseStoreContract('sqlite', () => new SqliteLeaseStore(openDatabase(':memory:')));
