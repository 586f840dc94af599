/**
 * Test set-up straight into a real Airflow's metadata DB (SQLite): seeding many users and resetting between
 * tests. Everything a test asserts is read back through Airflow itself (REST API or CLI), never from here.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { BREAK_GLASS, PROVISIONER_ROLE, SERVICE_ACCOUNT, type RealAirflowServer } from './server';

/** Roles every test starts with: FAB's built-in ones and the set-up's own. */
const BUILT_IN_ROLES = ['Admin', 'Op', 'User', 'Viewer', 'Public', PROVISIONER_ROLE];

function open(s: Pick<RealAirflowServer, 'home'>): Database.Database {
  const db = new Database(path.join(s.home, 'airflow.db'));
  db.pragma('busy_timeout = 30000');
  db.pragma('foreign_keys = ON');
  return db;
}

/** Removes every user but the break-glass Admin and the service account, and every role but the built-in ones. */
export function resetAirflow(s: Pick<RealAirflowServer, 'home'>, keepUsers: string[] = []): void {
  const db = open(s);
  try {
    db.transaction(() => {
      const keep = [BREAK_GLASS.username, SERVICE_ACCOUNT.username, ...keepUsers].map((u) => u.toLowerCase());
      const users = db.prepare('SELECT id, username FROM ab_user').all() as Array<{ id: number; username: string }>;
      for (const u of users.filter((u) => !keep.includes(u.username.toLowerCase()))) {
        db.prepare('DELETE FROM ab_user_role WHERE user_id = ?').run(u.id);
        db.prepare('DELETE FROM ab_user WHERE id = ?').run(u.id);
      }
      const roles = db.prepare('SELECT id, name FROM ab_role').all() as Array<{ id: number; name: string }>;
      for (const r of roles.filter((r) => !BUILT_IN_ROLES.includes(r.name))) {
        db.prepare('DELETE FROM ab_user_role WHERE role_id = ?').run(r.id);
        db.prepare('DELETE FROM ab_permission_view_role WHERE role_id = ?').run(r.id);
        db.prepare('DELETE FROM ab_role WHERE id = ?').run(r.id);
      }
    })();
  } finally {
    db.close();
  }
}

/** Seeds n users named `${prefix}0000`… with the Viewer role and no password (they cannot sign in). */
export function seedUsers(s: Pick<RealAirflowServer, 'home'>, n: number, prefix: string, role = 'Viewer'): void {
  const db = open(s);
  try {
    const roleId = (db.prepare('SELECT id FROM ab_role WHERE name = ?').get(role) as { id: number }).id;
    const now = new Date().toISOString().replace('T', ' ').replace('Z', '');
    const insertUser = db.prepare(
      `INSERT INTO ab_user (first_name, last_name, username, password, active, email, login_count, fail_login_count, created_on, changed_on)
       VALUES (?, ?, ?, NULL, 1, ?, 0, 0, ?, ?)`,
    );
    const insertRole = db.prepare('INSERT INTO ab_user_role (user_id, role_id) VALUES (?, ?)');
    db.transaction(() => {
      for (let i = 0; i < n; i++) {
        const username = `${prefix}${String(i).padStart(4, '0')}`;
        const r = insertUser.run('Seed', 'User', username, `${username}@example.com`, now, now);
        insertRole.run(r.lastInsertRowid, roleId);
      }
    })();
  } finally {
    db.close();
  }
}

/** Counts rows of a table (the session-growth check). */
export function countRows(s: Pick<RealAirflowServer, 'home'>, table: 'session' | 'ab_user'): number {
  const db = open(s);
  try {
    return (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** The service account's login counter (FAB's auth_user_db bumps it on every password check). */
export function loginCount(s: Pick<RealAirflowServer, 'home'>, username: string): number {
  const db = open(s);
  try {
    return (db.prepare('SELECT COALESCE(login_count, 0) AS n FROM ab_user WHERE username = ?').get(username) as { n: number }).n;
  } finally {
    db.close();
  }
}
