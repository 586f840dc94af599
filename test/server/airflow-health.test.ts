import { ManualClock } from '../../src/core/clock';
import { AirflowHealthMonitor } from '../../src/server/airflow-health';
import type { AirflowInfo } from '../../src/airflow/types';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('AirflowHealthMonitor', () => {
  test('answers at once while a check hangs, then reports what the check found, never failing readiness by itself', async () => {
    let pending = deferred<AirflowInfo>();
    const m = new AirflowHealthMonitor({ info: () => pending.promise }, new ManualClock());
    const first = m.check();
    expect(m.current()).toEqual({ ok: true, detail: 'not checked yet (first check in progress)' });
    expect(m.check()).toBe(first); // one check in flight at a time
    pending.reject(new Error('Airflow at http://x is unreachable (timeout)'));
    await first;
    expect(m.current()).toEqual({ ok: false, detail: 'Airflow at http://x is unreachable (timeout) (checked 2026-01-01T00:00:00.000Z)' });
    pending = deferred<AirflowInfo>();
    const second = m.check();
    expect(m.current().ok).toBe(false); // the last result stands while the next check runs
    pending.resolve({ apiVersion: 3, version: '3.1.0', basePath: '/auth/fab/v1' } as AirflowInfo);
    await second;
    expect(m.current()).toEqual({ ok: true, detail: 'Airflow 3.1.0 at /auth/fab/v1, credentials accepted (checked 2026-01-01T00:00:00.000Z)' });
  });
});
