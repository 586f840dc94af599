import type { AirflowClient } from '../airflow/types';
import type { Clock } from '../core/clock';
import type { Check } from './status';

/**
 * Keeps Airflow's state fresh in the background, so /readyz answers in milliseconds whatever Airflow does (a probe
 * through the client's retries and timeouts can take a minute, far above a kubelet's 3 s probe timeout).
 * One check in flight at a time; the timer is unref()'d.
 */
export class AirflowHealthMonitor {
  private last: Check = { ok: true, detail: 'not checked yet' };
  private inFlight: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly airflow: Pick<AirflowClient, 'info'>,
    private readonly clock: Clock,
    private readonly intervalMs = 30_000,
    /** Names a wrong forced API version when a check fails (version-check.ts). */
    private readonly diagnose: () => Promise<string | undefined> = async () => undefined,
  ) {}

  start(): void {
    void this.check();
    this.timer = setInterval(() => void this.check(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The latest result; while the first check runs, "not checked yet" (ok: Airflow never fails readiness). */
  current(): Check {
    return this.inFlight && this.last.detail === 'not checked yet' ? { ok: true, detail: 'not checked yet (first check in progress)' } : this.last;
  }

  /** Runs a check unless one is in flight; resolves when that check is done. */
  check(): Promise<void> {
    this.inFlight ??= this.airflow
      .info()
      .then(
        (info) => {
          this.last = { ok: true, detail: `Airflow ${info.version ?? info.apiVersion + '.x'} at ${info.basePath}, credentials accepted (checked ${this.clock.now().toISOString()})` };
        },
        async (e: unknown) => {
          const mismatch = await this.diagnose().catch(() => undefined);
          this.last = { ok: false, detail: `${mismatch ? `${mismatch} (${(e as Error).message})` : (e as Error).message} (checked ${this.clock.now().toISOString()})` };
        },
      )
      .finally(() => {
        this.inFlight = null;
      });
    return this.inFlight;
  }
}
