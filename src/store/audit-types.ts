/** The audit trail: every SCIM write and every Airflow change, with before and after (no secrets). */
export interface AuditEntry {
  id?: number;
  at: string;
  /** scim: a SCIM request; airflow: a change applied to Airflow; admin: a CLI action (tokens, forced apply). */
  source: 'scim' | 'airflow' | 'admin';
  /** Token name, "reconciler", "cli". */
  actor: string;
  clientIp?: string;
  method?: string;
  path?: string;
  requestId?: string;
  resourceType?: string;
  resourceId?: string;
  /** The human handle: SCIM userName / group displayName, or the Airflow username / role name. */
  subject?: string;
  /** e.g. "created", "replaced", "patched", "deleted", "failed", "create-user", "set-roles", "blocked". */
  action: string;
  outcome: 'success' | 'failure';
  status?: number;
  /** Attributes changed: { before, after } or { error } or { added, removed } for memberships. */
  detail?: Record<string, unknown>;
}

export interface AuditQuery {
  since?: Date;
  /** Matches subject, case-insensitively. */
  subject?: string;
  source?: AuditEntry['source'];
  /** Keep only the newest N matching entries (returned oldest first). */
  limit?: number;
}

export interface AuditLog {
  record(entry: AuditEntry): Promise<void>;
  /** Oldest first. */
  query(q: AuditQuery): Promise<AuditEntry[]>;
}

