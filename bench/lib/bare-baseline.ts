import express from 'express';
import { randomUUID } from 'node:crypto';
import { userData } from './dataset';

const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const FILTER = /^\s*userName\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$/i;

/**
 * The baseline: the same filtered GET served by a bare Express 5 handler from a Map (userName folded to lower
 * case, as the store's NOCASE column), filter parsed by one regex, a ListResponse out. No auth, no store, no
 * SQL: what Express itself costs on this machine, so the real figure reads as a share of the ceiling.
 */
export function bareApp(users: number) {
  const byName = new Map<string, Record<string, unknown>>();
  const at = new Date().toISOString();
  for (let i = 0; i < users; i++) {
    const d = userData(i);
    const id = randomUUID();
    byName.set(d.userName.toLowerCase(), {
      schemas: [USER],
      id,
      ...d,
      meta: { resourceType: 'User', created: at, lastModified: at, version: 'W/"1"', location: `/scim/v2/Users/${id}` },
    });
  }
  const app = express();
  app.get('/scim/v2/Users', (req, res) => {
    const m = typeof req.query.filter === 'string' ? FILTER.exec(req.query.filter) : null;
    if (!m) {
      res.status(400).json({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '400', scimType: 'invalidFilter' });
      return;
    }
    const hit = byName.get(m[1].toLowerCase());
    const resources = hit ? [hit] : [];
    res
      .type('application/scim+json')
      .send(JSON.stringify({ schemas: [LIST], totalResults: resources.length, startIndex: 1, itemsPerPage: resources.length, Resources: resources }));
  });
  return app;
}
