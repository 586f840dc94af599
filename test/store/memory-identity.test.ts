import { ManualClock } from '../../src/core/clock';
import { MemoryAuditLog } from '../../src/store/memory-audit';
import { MemoryIdentityStore } from '../../src/store/memory-identity';
import { runIdentityStoreContract } from '../contract/identity-store.contract';

runIdentityStoreContract('MemoryIdentityStore', () => {
  const audit = new MemoryAuditLog();
  const clock = new ManualClock();
  let n = 0;
  return { store: new MemoryIdentityStore(audit, clock, () => `id-${String(++n).padStart(4, '0')}`), audit, clock };
});
