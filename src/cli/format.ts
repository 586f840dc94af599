import type { Action, Drift, RunReport } from '../reconcile/types';

/** A plain text table: columns padded to the widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function describeAction(a: Action): { target: string; change: string } {
  switch (a.kind) {
    case 'create-role':
      return { target: `role ${a.role}`, change: `create with ${a.permissions.length} permission(s)` };
    case 'set-role-permissions': {
      const list = (ps: typeof a.add): string => ps.map((p) => p.join(' on ')).join(', ');
      return { target: `role ${a.role}`, change: [a.add.length ? `add ${list(a.add)}` : '', a.remove.length ? `remove ${list(a.remove)}` : ''].filter(Boolean).join('; ') };
    }
    case 'create-user':
      return { target: a.username, change: `create, roles [${a.user.roles.join(', ')}]` };
    case 'adopt-user':
      return { target: a.username, change: 'adopt existing Airflow user' };
    case 'update-user':
      return {
        target: a.username,
        change: Object.entries(a.changes)
          .map(([field, c]) => `${field}: ${show(c?.before)} -> ${show(c?.after)}`)
          .join('; '),
      };
    case 'deprovision-user':
      return { target: a.username, change: a.mode === 'delete' ? 'delete account' : `strip roles [${a.rolesBefore.join(', ')}], random password` };
  }
}

const show = (v: unknown) => (Array.isArray(v) ? `[${v.join(', ')}]` : JSON.stringify(v));

export function describeDrift(d: Drift): string {
  switch (d.kind) {
    case 'extra-permissions':
      return `role ${d.role}: ${d.note}`;
    case 'email-clash':
      return `${d.username}: ${d.note}`;
    case 'unknown-role':
    case 'unavailable-role':
      return `role ${d.role}: ${d.note}`;
    case 'protected':
    case 'unowned':
    case 'awaiting-login':
    case 'username-collision':
      return `${d.username}: ${d.note}`;
  }
}

/** Terraform-style counts: creates (users, roles), updates (users, adoptions, role permissions), deprovisions, held. */
export function planCounts(r: Pick<RunReport, 'plan' | 'verdict'>): { create: number; update: number; deprovision: number; held: number; total: number } {
  const n = { create: 0, update: 0, deprovision: 0, held: r.verdict.held.length, total: r.plan.actions.length };
  for (const a of r.plan.actions) {
    if (a.kind === 'create-user' || a.kind === 'create-role') n.create++;
    else if (a.kind === 'deprovision-user') n.deprovision++;
    else n.update++;
  }
  return n;
}

/** The readable plan the `reconcile` command prints. */
export function formatReport(r: RunReport): string {
  // Keyed by content, not identity: a report read back from the database is a copy.
  const key = (a: Action) => JSON.stringify(a);
  const held = new Set(r.verdict.held.map(key));
  const outcome = new Map(r.outcomes.map((o) => [key(o.action), o]));
  const rows = r.plan.actions.map((a) => {
    const d = describeAction(a);
    const o = outcome.get(key(a));
    const status = held.has(key(a)) ? 'HELD' : r.dryRun ? 'planned' : o ? (o.ok ? 'done' : `FAILED: ${o.error}`) : 'skipped';
    return [a.kind, d.target, d.change, status, a.reason];
  });
  const out: string[] = [];
  out.push(r.dryRun ? 'Plan (dry run: nothing applied)' : 'Plan');
  if (rows.length) out.push(table(['ACTION', 'TARGET', 'CHANGE', 'STATUS', 'REASON'], rows));
  // A failed run made no plan: "nothing to do" would be a lie.
  else if (r.result === 'failed') out.push(`  no plan: the run failed before a plan was made: ${r.error ?? 'see the log'}`);
  else out.push('  nothing to do: Airflow matches the IdP');
  if (r.result !== 'failed') {
    const n = planCounts(r);
    out.push(`Plan: ${n.create} to create, ${n.update} to update, ${n.deprovision} to deprovision, ${n.held} held back.`);
  }
  if (r.plan.drift.length) {
    out.push('', 'Drift reported, not changed:');
    for (const d of r.plan.drift) out.push(`  - ${describeDrift(d)}`);
  }
  if (r.verdict.blocked) {
    const b = r.verdict.blocked;
    out.push(
      '',
      `BLOCKED by the safety limits: ${b.reason}`,
      `  ${r.verdict.held.length} deprovision(s) held back; the other actions ${r.dryRun ? 'would be' : 'were'} applied.`,
      '  If this is intended, run: airflow-scim reconcile --allow-mass-deprovision',
    );
  }
  out.push(
    '',
    `Result: ${r.result}. ${r.plan.actions.length} action(s), ${r.plan.unchanged} user(s) already in step, ${r.plan.managedUsers} managed.` +
      (r.error ? ` Error: ${r.error}` : ''),
  );
  return out.join('\n');
}
