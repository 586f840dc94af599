/**
 * The admin API, on its own port and behind its own bearer token (never a SCIM token): the access review report for
 * automation. GET /admin/v1/reports/access?format=json|md|csv. Off unless admin.port is configured.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import express from 'express';
import type { Logger } from '../logger';
import { renderReport, type AccessReport } from '../reconcile/report';

export interface AdminDeps {
  token: string;
  report: () => Promise<AccessReport>;
  logger: Logger;
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
const TYPES = { json: 'application/json', md: 'text/markdown; charset=utf-8', csv: 'text/csv; charset=utf-8' } as const;

export function adminApp(deps: AdminDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const want = digest(deps.token);
  app.use((req, res, next) => {
    const m = /^Bearer\s+(.+)$/i.exec(req.get('authorization') ?? '');
    if (!m || !timingSafeEqual(digest(m[1] as string), want)) {
      res.set('WWW-Authenticate', 'Bearer realm="airflow-scim admin"').status(401).json({ error: 'admin token required (ADMIN_TOKEN), not a SCIM token' });
      return;
    }
    next();
  });
  app.get('/admin/v1/reports/access', async (req, res) => {
    const format = String(req.query['format'] ?? 'json');
    if (!(format in TYPES)) {
      res.status(400).json({ error: `format must be one of ${Object.keys(TYPES).join(', ')}` });
      return;
    }
    try {
      const report = await deps.report();
      res.type(TYPES[format as keyof typeof TYPES]).send(renderReport(report, format as 'json' | 'md' | 'csv'));
    } catch (e) {
      deps.logger.error('access report failed', { component: 'admin', error: (e as Error).message });
      res.status(503).json({ error: `the report needs Airflow: ${(e as Error).message}` });
    }
  });
  app.use((_req, res) => void res.status(404).json({ error: 'not found' }));
  return app;
}
