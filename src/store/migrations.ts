/**
 * Numbered, append-only schema migrations (dex style). Applied on open, each in its own transaction,
 * tracked by PRAGMA user_version. Never edit a released entry: add a new one.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: identity (RFC 7643 User and Group), journal, audit, tokens
  `
  CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    user_name     TEXT NOT NULL COLLATE NOCASE UNIQUE,  -- RFC 7643 §4.1.1 caseExact false, uniqueness server
    external_id   TEXT,
    display_name  TEXT COLLATE NOCASE,
    active        INTEGER NOT NULL DEFAULT 1,
    doc           TEXT NOT NULL,                        -- canonical UserData as JSON
    created       TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1,
    seq           INTEGER NOT NULL                      -- insertion order: the stable default sort
  );
  CREATE INDEX users_external_id ON users(external_id);
  CREATE INDEX users_display_name ON users(display_name);
  CREATE INDEX users_seq ON users(seq);

  CREATE TABLE user_emails (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    value      TEXT NOT NULL COLLATE NOCASE,
    type       TEXT,
    is_primary INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX user_emails_value ON user_emails(value);
  CREATE INDEX user_emails_user ON user_emails(user_id);

  CREATE TABLE groups (
    id            TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL COLLATE NOCASE UNIQUE,  -- Entra requires unique group names
    external_id   TEXT,
    doc           TEXT NOT NULL,
    created       TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    version       INTEGER NOT NULL DEFAULT 1,
    seq           INTEGER NOT NULL
  );
  CREATE INDEX groups_external_id ON groups(external_id);
  CREATE INDEX groups_seq ON groups(seq);

  CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
  ) WITHOUT ROWID;
  CREATE INDEX group_members_user ON group_members(user_id);

  CREATE TABLE changes (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    op            TEXT NOT NULL
  );

  CREATE TABLE audit (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TEXT NOT NULL,
    source        TEXT NOT NULL,
    actor         TEXT NOT NULL,
    client_ip     TEXT,
    method        TEXT,
    path          TEXT,
    request_id    TEXT,
    resource_type TEXT,
    resource_id   TEXT,
    subject       TEXT COLLATE NOCASE,
    action        TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    status        INTEGER,
    detail        TEXT
  );
  CREATE INDEX audit_at ON audit(at);
  CREATE INDEX audit_subject ON audit(subject);

  CREATE TABLE tokens (
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    created    TEXT NOT NULL,
    expires_at TEXT,
    last_used  TEXT,
    revoked_at TEXT
  );
  CREATE UNIQUE INDEX tokens_active_name ON tokens(name) WHERE revoked_at IS NULL;
  `,
  // 2: reconciler state: ownership of Airflow accounts, the deprovision window, runs, key/value cursor
  `
  CREATE TABLE airflow_owned (
    username     TEXT PRIMARY KEY COLLATE NOCASE,     -- FAB matches usernames case-insensitively
    how          TEXT NOT NULL,                       -- created | adopted
    scim_user_id TEXT,
    since        TEXT NOT NULL
  );
  CREATE TABLE deprovision_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    username TEXT NOT NULL,
    kind     TEXT NOT NULL                            -- deprovision | admin-removal
  );
  CREATE INDEX deprovision_events_at ON deprovision_events(at);
  CREATE TABLE reconcile_runs (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    started  TEXT NOT NULL,
    finished TEXT,
    trigger  TEXT NOT NULL,
    dry_run  INTEGER NOT NULL DEFAULT 0,
    result   TEXT,                                    -- applied | nothing-to-do | blocked | failed | partial
    seq      INTEGER,                                 -- journal seq the run saw
    summary  TEXT,                                    -- JSON
    error    TEXT
  );
  CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // 3: an owned Airflow account stays bound to one SCIM identity: its SCIM id (scim_user_id) or externalId;
  // deprovision_events.kind may now also be role-removal
  `
  ALTER TABLE airflow_owned ADD COLUMN external_id TEXT;
  `,
  // 4: leases: one service and one reconcile run per database, across processes (lease-types.ts)
  `
  CREATE TABLE leases (
    name        TEXT PRIMARY KEY,                     -- service | reconcile
    holder_id   TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    host        TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL
  );
  `,
];
