/** Clients for a running real Airflow: ours (as the service account), built exactly as the service builds them. */
import { createAirflowClient } from '../../src/airflow/detect';
import type { AirflowClient } from '../../src/airflow/types';
import { loadConfig } from '../../src/config/load';
import type { Config } from '../../src/config/schema';
import { silentLogger } from '../../src/logger';
import { SERVICE_ACCOUNT, type RealAirflowServer } from './server';

export function configFor(s: RealAirflowServer, airflow: Record<string, unknown> = {}, rest: Record<string, unknown> = {}): Config {
  return loadConfig({
    env: {},
    overrides: {
      airflow: { url: s.url, apiVersion: 'auto', apiUser: SERVICE_ACCOUNT.username, apiPassword: SERVICE_ACCOUNT.password, timeout: '30s', retries: 2, ...airflow },
      ...rest,
    },
  });
}

export function clientFor(s: RealAirflowServer, airflow: Record<string, unknown> = {}): AirflowClient {
  return createAirflowClient(configFor(s, airflow).airflow, silentLogger());
}
