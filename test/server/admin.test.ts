/** Issue 12: the access report over HTTP, on the admin interface, behind its own token (never a SCIM token). */
import request from 'supertest';
import { ConfigError, parseConfig } from '../../src/config/load';
import { silentLogger } from '../../src/logger';
import type { AccessReport } from '../../src/reconcile/report';
import { adminApp } from '../../src/server/admin';

const TOKEN = 'admin-token-0123456789abcdefghij';
const report: AccessReport = {
  generatedAt: '2026-12-02T00:00:00.000Z', airflow: { url: 'http://airflow:8080', version: '3.3.2' }, scimSeq: 7,
  accounts: [{ username: 'ann', email: 'ann@corp.io', roles: ['User'], holding: 'managed', why: 'group eng (group: eng) -> User', idpLastChange: null, airflowLastChange: null, flags: [] }],
  roles: [],
};
const app = adminApp({ token: TOKEN, report: async () => report, logger: silentLogger() });

test('only the admin token opens it: none, a wrong one or a SCIM token get 401', async () => {
  expect((await request(app).get('/admin/v1/reports/access')).status).toBe(401);
  expect((await request(app).get('/admin/v1/reports/access').set('Authorization', 'Bearer scim_abc')).status).toBe(401);
  const r = await request(app).get('/admin/v1/reports/access').set('Authorization', `Bearer ${TOKEN}`);
  expect(r.status).toBe(200);
  expect(r.body).toEqual(report);
});

test('md and csv formats; an unknown format is a 400', async () => {
  const md = await request(app).get('/admin/v1/reports/access?format=md').set('Authorization', `Bearer ${TOKEN}`);
  expect(md.headers['content-type']).toMatch(/^text\/markdown/);
  expect(md.text).toMatch(/^# Airflow access review, 2026-12-02T00:00:00\.000Z: http:\/\/airflow:8080 \(Airflow 3\.3\.2\), SCIM state sequence 7$/m);
  const csv = await request(app).get('/admin/v1/reports/access?format=csv').set('Authorization', `Bearer ${TOKEN}`);
  expect(csv.text.split('\n')[1]).toBe('ann,ann@corp.io,User,managed,group eng (group: eng) -> User,-,-,');
  expect((await request(app).get('/admin/v1/reports/access?format=pdf').set('Authorization', `Bearer ${TOKEN}`)).status).toBe(400);
});

test('config: an admin port needs its own token, different from the SCIM token', () => {
  expect(() => parseConfig({ admin: { port: 9465 } })).toThrow(ConfigError);
  expect(() => parseConfig({ admin: { port: 9465, token: TOKEN }, scim: { token: TOKEN } })).toThrow(/must differ from the SCIM token/);
  expect(parseConfig({ admin: { port: 9465, token: TOKEN } }).admin).toMatchObject({ port: 9465, token: TOKEN });
  expect(parseConfig({}).admin.port).toBeNull();
});
