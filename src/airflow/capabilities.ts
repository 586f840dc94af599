/**
 * Which FAB provider a server runs, and what follows from it (real-airflow.md §1, §4): the role PATCH behaviour
 * and whether we support it at all. Read once per client from the providers endpoint.
 */
import { compareVersions } from '../core/version';
import type { Logger } from '../logger';
import type { AirflowInfo, RolePatchBehaviour } from './types';
import { AirflowError } from './types';

/** FAB 3.0.3-3.2.x refuse every role PATCH (403/400) and list users with 500s before 3.4.0 (real-airflow.md §4). */
export const MIN_FAB_FOR_AIRFLOW_3 = '3.4.0';
/** PR #71933: from FAB 3.8.1 role PATCH replaces the permission set. */
export const FAB_ROLE_PATCH_REPLACES_FROM = '3.8.1';
export const FAB_PACKAGE = 'apache-airflow-providers-fab';

export function rolePatchBehaviour(apiVersion: 2 | 3, fabVersion: string | undefined): RolePatchBehaviour {
  if (apiVersion === 2) return 'add'; // FAB 1.x bulk_sync_roles only adds
  // Unknown provider version on 3.x: assume the current behaviour (the newest providers replace).
  if (!fabVersion) return 'replace';
  return compareVersions(fabVersion, FAB_ROLE_PATCH_REPLACES_FROM) >= 0 ? 'replace' : 'add';
}

/** Refuses provider versions whose user/role API is broken, naming the minimum. */
export function assertSupported(apiVersion: 2 | 3, fabVersion: string | undefined, url: string): void {
  if (apiVersion === 3 && fabVersion && compareVersions(fabVersion, MIN_FAB_FOR_AIRFLOW_3) < 0) {
    throw new AirflowError(
      'unsupported',
      `Airflow at ${url} runs ${FAB_PACKAGE} ${fabVersion}; the sync needs ${MIN_FAB_FOR_AIRFLOW_3} or newer on Airflow 3 ` +
        `(older providers refuse role PATCH and can fail listing users); upgrade the provider`,
    );
  }
}

/** The FAB provider version from a providers page ({providers: [{package_name, version}]}). */
export function fabVersionOf(page: unknown): string | undefined {
  const list = (page as { providers?: Array<{ package_name?: unknown; version?: unknown }> } | undefined)?.providers ?? [];
  const fab = list.find((p) => p.package_name === FAB_PACKAGE);
  return typeof fab?.version === 'string' ? fab.version : undefined;
}

/**
 * What the server is, from its providers page (GET /api/v1|v2/providers, can_read on Providers): refused when
 * unsupported. Without that permission the provider version stays unknown and the defaults above apply.
 */
export async function readCapabilities(
  readProviders: () => Promise<unknown>,
  base: Omit<AirflowInfo, 'fabVersion' | 'rolePatch'>,
  url: string,
  logger?: Logger,
): Promise<AirflowInfo> {
  let fabVersion: string | undefined;
  try {
    fabVersion = fabVersionOf(await readProviders());
  } catch (e) {
    logger?.warn('airflow providers not readable: FAB provider version unknown', { error: e instanceof Error ? e.message : String(e) });
  }
  assertSupported(base.apiVersion, fabVersion, url);
  return { ...base, fabVersion, rolePatch: rolePatchBehaviour(base.apiVersion, fabVersion) };
}
