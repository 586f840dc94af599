import { InvalidMemberError, type MemberOp } from '../types';
import type { MembershipDelta } from '../write-audit';
import type { SqlDialect } from './dialect';
import type { SqlExecutor } from './driver';

/**
 * Set-based membership edits (one statement per op, not per member), so a 20,000-member PATCH stays short. The
 * ids travel as one JSON array parameter. Runs inside the group write's transaction.
 */
export class MemberWriter {
  constructor(private readonly d: SqlDialect) {}

  /** Users only (RFC 7643 §4.2 allows groups as members; Airflow has no nesting). */
  private async check(tx: SqlExecutor, ids: readonly string[]): Promise<void> {
    if (!ids.length) return;
    const miss = await tx.get<{ value: string }>(
      `SELECT j.value FROM ${this.d.jsonIds('j')} WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = j.value) ORDER BY j.key LIMIT 1`,
      [JSON.stringify(ids)],
    );
    if (miss) throw new InvalidMemberError(miss.value, (await tx.get('SELECT 1 FROM groups WHERE id = ?', [miss.value])) ? 'group' : 'unknown');
  }

  private async add(tx: SqlExecutor, groupId: string, ids: readonly string[], delta: MembershipDelta): Promise<void> {
    if (!ids.length) return;
    const rows = await tx.all<{ user_id: string }>(
      `INSERT INTO group_members (group_id, user_id) SELECT ?, j.value FROM ${this.d.jsonIds('j')} WHERE true ORDER BY j.key
       ON CONFLICT DO NOTHING RETURNING user_id`,
      [groupId, JSON.stringify(ids)],
    );
    // RETURNING order is unspecified: report in request order.
    const got = new Set(rows.map((r) => r.user_id));
    delta.added.push(...ids.filter((m) => got.has(m)));
  }

  /** Applies ops in order: O(ids), never O(group size) (except replace, which must drop the rest). */
  async apply(tx: SqlExecutor, groupId: string, ops: readonly MemberOp[], delta: MembershipDelta): Promise<void> {
    for (const op of ops) {
      switch (op.op) {
        case 'add':
          await this.check(tx, op.ids);
          await this.add(tx, groupId, op.ids, delta);
          break;
        case 'remove': {
          if (!op.ids.length) break;
          const rows = await tx.all<{ user_id: string }>(
            `DELETE FROM group_members WHERE group_id = ? AND user_id IN (SELECT j.value FROM ${this.d.jsonIds('j')}) RETURNING user_id`,
            [groupId, JSON.stringify(op.ids)],
          );
          const gone = new Set(rows.map((r) => r.user_id));
          const removed = op.ids.filter((m) => gone.has(m));
          delta.removed.push(...removed);
          delta.removedCount += removed.length;
          break;
        }
        case 'removeAll': {
          const n = (await tx.run('DELETE FROM group_members WHERE group_id = ?', [groupId])).changes;
          if (n) {
            delta.removedAll = true;
            delta.removedCount += n;
          }
          break;
        }
        case 'replace': {
          await this.check(tx, op.ids);
          const rows = await tx.all<{ user_id: string }>(
            `DELETE FROM group_members WHERE group_id = ? AND user_id NOT IN (SELECT j.value FROM ${this.d.jsonIds('j')}) RETURNING user_id`,
            [groupId, JSON.stringify(op.ids)],
          );
          const gone = rows.map((r) => r.user_id).sort();
          delta.removed.push(...gone);
          delta.removedCount += gone.length;
          await this.add(tx, groupId, op.ids, delta);
          break;
        }
      }
    }
  }
}
