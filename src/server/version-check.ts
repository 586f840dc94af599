import { createAirflowClient } from '../airflow/detect';
import type { AirflowConfig } from '../config/schema';
import type { Logger } from '../logger';

/**
 * When AIRFLOW_API_VERSION is forced and Airflow fails, asks the server which version it runs (as `auto` would), so
 * that a wrong forced version is named instead of surfacing as rejected credentials or a missing endpoint.
 * Undefined when nothing is forced, the versions agree, or the server cannot tell.
 */
export async function forcedVersionMismatch(cfg: AirflowConfig, logger: Logger): Promise<string | undefined> {
  if (!cfg.url || cfg.apiVersion === 'auto') return undefined;
  try {
    const info = await createAirflowClient({ ...cfg, apiVersion: 'auto', retries: 0 }, logger).info();
    if (String(info.apiVersion) === cfg.apiVersion) return undefined;
    return `AIRFLOW_API_VERSION is forced to ${cfg.apiVersion}, but ${cfg.url} is Airflow ${info.version ?? `${info.apiVersion}.x`}: set it to ${info.apiVersion} or auto`;
  } catch {
    return undefined;
  }
}
