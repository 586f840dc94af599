/**
 * The access review report (issue 12), pure: one row per Airflow account read live, how it is held and, for managed
 * accounts, why (IdP groups or attribute rules → roles), with flags an auditor asks about; then each role with its
 * permissions and holders. Rendered as a table, CSV, JSON or Markdown.
 */
import type { AirflowRole, AirflowUser } from '../airflow/types';
import type { OwnershipRecord } from '../store/reconcile-state';
import type { IdentitySnapshot } from '../store/types';
import { ADMIN_ROLE } from './plan';
import type { DesiredState } from './types';

export const BUILT_IN_ROLES = ['Admin', 'Op', 'User', 'Viewer', 'Public'];

export type Holding = 'managed' | 'adopted' | 'protected' | 'service-account' | 'unmanaged';

export interface AccountRow {
  username: string;
  email: string;
  roles: string[];
  holding: Holding;
  /** Managed accounts: "group airflow-admins (group: airflow-admins) -> Admin; filter: … -> X". */
  why: string;
  /** When the IdP last changed the bound SCIM user (meta.lastModified). */
  idpLastChange: string | null;
  /** When we last changed this account in Airflow (audit). */
  airflowLastChange: string | null;
  flags: string[];
}

export interface RoleRow {
  name: string;
  custom: boolean;
  permissions: string[];
  managedHolders: number;
  unmanagedHolders: number;
  flags: string[];
}

export interface AccessReport {
  generatedAt: string;
  airflow: { url: string; version: string | null };
  scimSeq: number;
  accounts: AccountRow[];
  roles: RoleRow[];
}

export interface ReportInput {
  now: Date;
  airflowUrl: string;
  airflowVersion: string | null;
  snapshot: IdentitySnapshot;
  desired: DesiredState;
  users: AirflowUser[];
  roles: AirflowRole[];
  owned: ReadonlyMap<string, OwnershipRecord>;
  protectedUsers: readonly string[];
  serviceAccount: string | null;
  /** Lower-cased username → when we last changed it in Airflow. */
  lastAirflowChange: ReadonlyMap<string, string>;
}

const lower = (s: string): string => s.toLowerCase();
const sameSet = (a: string[], b: string[]): boolean => a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000');

export function accessReport(input: ReportInput): AccessReport {
  const desiredBy = new Map(input.desired.users.map((d) => [lower(d.username), d]));
  const customRoles = new Map(input.desired.roles.map((r) => [r.name, r]));
  const scimById = new Map(input.snapshot.users.map((u) => [u.id, u]));
  const protectedSet = new Set(input.protectedUsers.map(lower));
  const accounts = [...input.users]
    .sort((a, b) => (lower(a.username) < lower(b.username) ? -1 : 1))
    .map((u): AccountRow => {
      const key = lower(u.username);
      const owner = input.owned.get(key);
      const want = desiredBy.get(key);
      const holding: Holding =
        input.serviceAccount && key === lower(input.serviceAccount) ? 'service-account'
          : protectedSet.has(key) ? 'protected'
            : owner ? (owner.how === 'adopted' ? 'adopted' : 'managed')
              : 'unmanaged';
      const flags: string[] = [];
      const managed = holding === 'managed' || holding === 'adopted';
      if (holding === 'unmanaged') {
        if (u.roles.includes(ADMIN_ROLE)) flags.push('unmanaged account with Admin');
        for (const r of u.roles.filter((r) => !BUILT_IN_ROLES.includes(r))) flags.push(`unmanaged account with custom role ${r}`);
      }
      if (managed && want && !sameSet(u.roles, want.roles)) flags.push(`roles differ from the mapping: has [${[...u.roles].sort().join(', ')}], mapped [${want.roles.join(', ')}]`);
      if (managed && !want) flags.push(u.roles.length ? `deprovisioned in the IdP but still holds [${u.roles.join(', ')}]` : 'deprovisioned account still exists (no roles)');
      const scim = owner?.scimUserId ? scimById.get(owner.scimUserId) : undefined;
      return {
        username: u.username,
        email: u.email,
        roles: [...u.roles].sort(),
        holding,
        why: managed && want ? want.sources.map((s) => `${s.group ? `group ${s.group} (${s.rule})` : s.rule} -> ${s.roles.join(', ')}`).join('; ') : '',
        idpLastChange: scim?.meta.lastModified ?? null,
        airflowLastChange: input.lastAirflowChange.get(key) ?? null,
        flags,
      };
    });
  const holding = new Map(accounts.map((a) => [lower(a.username), a.holding]));
  const roles = [...input.roles]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((r): RoleRow => {
      const holders = input.users.filter((u) => u.roles.includes(r.name));
      const managedHolders = holders.filter((u) => ['managed', 'adopted'].includes(holding.get(lower(u.username)) ?? '')).length;
      const permissions = groupedPermissions(r.permissions);
      const def = customRoles.get(r.name);
      const flags: string[] = [];
      if (def) {
        const wanted = new Set(def.permissions.map(([a, res]) => `${a} on ${res}`));
        const extra = r.permissions.map(([a, res]) => `${a} on ${res}`).filter((p) => !wanted.has(p)).sort();
        if (extra.length) flags.push(`permissions beyond its definition: ${extra.join(', ')}`);
      }
      return { name: r.name, custom: def !== undefined, permissions, managedHolders, unmanagedHolders: holders.length - managedHolders, flags };
    });
  return { generatedAt: input.now.toISOString(), airflow: { url: input.airflowUrl, version: input.airflowVersion }, scimSeq: input.snapshot.seq, accounts, roles };
}

/** "can_read on Website", and DAG-level permissions by DAG: "DAG finance_daily: can_edit, can_read". */
function groupedPermissions(perms: ReadonlyArray<readonly [string, string]>): string[] {
  const byDag = new Map<string, string[]>();
  const plain: string[] = [];
  for (const [a, res] of perms) {
    const dag = /^DAG(?: Run)?:(.+)$/.exec(res);
    if (dag) {
      const key = `${res.startsWith('DAG Run:') ? 'DAG runs of' : 'DAG'} ${dag[1]}`;
      byDag.set(key, [...(byDag.get(key) ?? []), a]);
    } else plain.push(`${a} on ${res}`);
  }
  return [...plain.sort(), ...[...byDag].sort(([x], [y]) => (x < y ? -1 : 1)).map(([k, acts]) => `${k}: ${acts.sort().join(', ')}`)];
}

const csvCell = (v: string): string => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
const mdCell = (v: string): string => v.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderReport(r: AccessReport, format: 'table' | 'csv' | 'json' | 'md', table?: (h: string[], rows: string[][]) => string): string {
  if (format === 'json') return JSON.stringify(r, null, 2);
  const header = ['USERNAME', 'EMAIL', 'ROLES', 'HELD AS', 'WHY', 'IDP LAST CHANGE', 'AIRFLOW LAST CHANGE', 'FLAGS'];
  const rows = r.accounts.map((a) => [a.username, a.email, a.roles.join(', '), a.holding, a.why, a.idpLastChange ?? '-', a.airflowLastChange ?? '-', a.flags.join('; ')]);
  const roleHeader = ['ROLE', 'CUSTOM', 'MANAGED HOLDERS', 'UNMANAGED HOLDERS', 'PERMISSIONS', 'FLAGS'];
  const roleRows = r.roles.map((x) => [x.name, x.custom ? 'yes' : 'no', String(x.managedHolders), String(x.unmanagedHolders), x.permissions.join(', '), x.flags.join('; ')]);
  const title = `Airflow access review, ${r.generatedAt}: ${r.airflow.url} (Airflow ${r.airflow.version ?? 'unknown'}), SCIM state sequence ${r.scimSeq}`;
  if (format === 'csv') return [header, ...rows].map((row) => row.map(csvCell).join(',')).join('\n');
  if (format === 'md') {
    const md = (h: string[], rs: string[][]) => [`| ${h.join(' | ')} |`, `|${h.map(() => '---').join('|')}|`, ...rs.map((row) => `| ${row.map(mdCell).join(' | ')} |`)].join('\n');
    const flagged = r.accounts.filter((a) => a.flags.length).length;
    return [`# ${title}`, '', `${r.accounts.length} account(s), ${flagged} flagged.`, '', '## Accounts', '', md(header, rows), '', '## Roles', '', md(roleHeader, roleRows), ''].join('\n');
  }
  if (!table) throw new Error('the table format needs a table renderer');
  return [title, '', table(header, rows), '', table(roleHeader, roleRows)].join('\n');
}
