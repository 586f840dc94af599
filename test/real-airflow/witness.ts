/**
 * Two independent views of a real Airflow's accounts, for checkpoints: its REST API read as the break-glass Admin
 * (not our service account), and Airflow's own CLI (`airflow users list`, `airflow roles list -p`).
 */
import type { AirflowRole } from '../../src/airflow/types';
import type { SeenUser } from '../e2e/harness';
import { clientFor } from './clients';
import { airflowCli, BREAK_GLASS, type RealAirflowServer } from './server';

export interface Witnessed {
  users: Map<string, SeenUser>;
  /** Per username: everything that must not change for an account we leave alone. */
  untouched: Map<string, string>;
  roles: Map<string, string[]>;
}

const sortedPerms = (r: AirflowRole): string[] => r.permissions.map(([a, res]) => `${a} on ${res}`).sort();

export async function viaRest(s: RealAirflowServer): Promise<Witnessed> {
  const admin = clientFor(s, { apiUser: BREAK_GLASS.username, apiPassword: BREAK_GLASS.password });
  const [users, roles] = await Promise.all([admin.listUsers(), admin.listRoles()]);
  const seen = (u: (typeof users)[number]): SeenUser => ({ username: u.username, email: u.email, firstName: u.firstName, lastName: u.lastName, roles: [...u.roles].sort() });
  return {
    users: new Map(users.map((u) => [u.username, seen(u)])),
    untouched: new Map(users.map((u) => [u.username, JSON.stringify({ ...seen(u), active: u.active })])),
    roles: new Map(roles.map((r) => [r.name, sortedPerms(r)])),
  };
}

interface CliUser { username: string; email: string; first_name: string; last_name: string; roles: string[] | string }
interface CliPermission { name: string; resource: string; action: string }

export async function viaCli(s: RealAirflowServer): Promise<Witnessed> {
  const [usersOut, rolesOut] = await Promise.all([airflowCli(s, ['users', 'list', '-o', 'json']), airflowCli(s, ['roles', 'list', '-p', '-o', 'json'])]);
  const users = parseJsonOutput<CliUser[]>(usersOut);
  const seen = (u: CliUser): SeenUser => ({
    username: u.username, email: u.email, firstName: u.first_name, lastName: u.last_name,
    roles: (Array.isArray(u.roles) ? u.roles : u.roles.split(',')).map((r) => r.trim()).filter(Boolean).sort(),
  });
  const roles = new Map<string, string[]>();
  for (const p of parseJsonOutput<CliPermission[]>(rolesOut)) {
    const list = roles.get(p.name) ?? [];
    for (const action of p.action.split(',').map((a) => a.trim()).filter(Boolean)) list.push(`${action} on ${p.resource}`);
    roles.set(p.name, list);
  }
  for (const [k, v] of roles) roles.set(k, v.sort());
  return {
    users: new Map(users.map((u) => [u.username, seen(u)])),
    untouched: new Map(users.map((u) => [u.username, JSON.stringify(seen(u))])),
    roles,
  };
}

/** The JSON array in a CLI's stdout (Airflow may print warnings around it). */
function parseJsonOutput<T>(out: string): T {
  const start = out.search(/^\[\s*(\{|\])/m); // log lines such as "[warning  ] …" also start with '['
  const end = out.lastIndexOf(']');
  if (start < 0 || end < start) throw new Error(`no JSON in airflow CLI output:\n${out.slice(0, 2000)}`);
  return JSON.parse(out.slice(start, end + 1)) as T;
}
