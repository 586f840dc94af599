import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Metrics, startMetricsServer } from '../src/metrics';

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The value of one sample line, e.g. value(text, 'scim_requests_total{resource="Users",method="GET",status="200"}'). */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const NAMES = [
  'scim_requests_total',
  'scim_request_duration_seconds',
  'scim_auth_failures_total',
  'reconcile_runs_total',
  'reconcile_run_duration_seconds',
  'reconcile_actions_total',
  'reconcile_drift_total',
  'reconcile_drift_last_run',
  'scim_to_airflow_lag_seconds',
  'reconcile_pending_changes',
  'reconcile_last_success_timestamp_seconds',
  'reconcile_blocked',
  'airflow_api_calls_total',
];

describe('Metrics', () => {
  it('declares every metric (HELP and TYPE) plus the default process metrics', async () => {
    const text = await new Metrics().text();
    for (const name of NAMES) {
      expect(text).toContain(`# HELP ${name} `);
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain('# TYPE scim_request_duration_seconds histogram');
    expect(text).toContain('# TYPE scim_to_airflow_lag_seconds histogram');
    expect(text).toContain('# TYPE reconcile_blocked gauge');
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_heap_size_used_bytes');
    // gauges have a value from the first scrape
    expect(value(text, 'reconcile_blocked')).toBe(0);
    expect(value(text, 'reconcile_pending_changes')).toBe(0);
    expect(value(text, 'reconcile_last_success_timestamp_seconds')).toBe(0);
  });

  it('keeps instances independent (own registry, no global state)', async () => {
    const a = new Metrics({ defaultMetrics: false });
    const b = new Metrics({ defaultMetrics: false });
    a.authFailure('invalid');
    expect(value(await a.text(), 'scim_auth_failures_total{reason="invalid"}')).toBe(1);
    expect(value(await b.text(), 'scim_auth_failures_total{reason="invalid"}')).toBeUndefined();
    expect(await a.text()).not.toContain('process_cpu_user_seconds_total');
  });

  it('changes values through its methods', async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.observeScimRequest('Users', 'get', 200, 0.003);
    m.observeScimRequest('Users', 'GET', 200, 0.2);
    m.observeScimRequest('Groups', 'PATCH', 400, 0.01);
    m.authFailure('missing');
    m.authFailure('missing');
    m.runFinished('applied', 1.5, new Date('2026-01-01T00:00:00Z'));
    m.runFinished('blocked', 0.2);
    m.action('create-user', true);
    m.action('create-user', false);
    m.drift('unknown-role', 3);
    m.drift('unknown-role', 2);
    m.lag(0.4);
    m.lag(700);
    m.lag(-1); // ignored
    m.pending(7);
    m.blocked(true);
    m.airflowCall('GET /users/{username}', 404);
    m.airflowCall('POST /users', 'error');

    const t = await m.text();
    expect(value(t, 'scim_requests_total{resource="Users",method="GET",status="200"}')).toBe(2);
    expect(value(t, 'scim_requests_total{resource="Groups",method="PATCH",status="400"}')).toBe(1);
    expect(value(t, 'scim_request_duration_seconds_count{resource="Users",method="GET"}')).toBe(2);
    expect(value(t, 'scim_request_duration_seconds_bucket{le="0.005",resource="Users",method="GET"}')).toBe(1);
    expect(value(t, 'scim_auth_failures_total{reason="missing"}')).toBe(2);
    expect(value(t, 'reconcile_runs_total{result="applied"}')).toBe(1);
    expect(value(t, 'reconcile_runs_total{result="blocked"}')).toBe(1);
    expect(value(t, 'reconcile_run_duration_seconds_sum{result="applied"}')).toBe(1.5);
    expect(value(t, 'reconcile_last_success_timestamp_seconds')).toBe(Date.parse('2026-01-01T00:00:00Z') / 1000);
    expect(value(t, 'reconcile_actions_total{kind="create-user",result="ok"}')).toBe(1);
    expect(value(t, 'reconcile_actions_total{kind="create-user",result="error"}')).toBe(1);
    expect(value(t, 'reconcile_drift_total{kind="unknown-role"}')).toBe(5);
    expect(value(t, 'reconcile_drift_last_run{kind="unknown-role"}')).toBe(2);
    expect(value(t, 'scim_to_airflow_lag_seconds_count')).toBe(2);
    expect(value(t, 'scim_to_airflow_lag_seconds_bucket{le="0.5"}')).toBe(1);
    expect(value(t, 'scim_to_airflow_lag_seconds_bucket{le="600"}')).toBe(1);
    expect(value(t, 'scim_to_airflow_lag_seconds_bucket{le="+Inf"}')).toBe(2);
    expect(t).toContain('scim_to_airflow_lag_seconds_bucket{le="0.1"}');
    expect(value(t, 'reconcile_pending_changes')).toBe(7);
    expect(value(t, 'reconcile_blocked')).toBe(1);
    expect(value(t, 'airflow_api_calls_total{endpoint="GET /users/{username}",status="404"}')).toBe(1);
    expect(value(t, 'airflow_api_calls_total{endpoint="POST /users",status="error"}')).toBe(1);

    m.blocked(false);
    m.driftFound({ 'email-clash': 1 });
    const t2 = await m.text();
    expect(value(t2, 'reconcile_blocked')).toBe(0);
    expect(value(t2, 'reconcile_drift_last_run{kind="unknown-role"}')).toBe(0);
    expect(value(t2, 'reconcile_drift_last_run{kind="email-clash"}')).toBe(1);
    expect(value(t2, 'reconcile_drift_total{kind="unknown-role"}')).toBe(5);
  });

  it('serves GET /metrics on its own port and 404s everything else', async () => {
    const m = new Metrics();
    m.pending(3);
    const server = await startMetricsServer(m, 0, '127.0.0.1');
    try {
      const { port } = server.address() as AddressInfo;
      const ok = await get(port, '/metrics');
      expect(ok.status).toBe(200);
      expect(ok.type).toMatch(/^text\/plain/);
      expect(value(ok.body, 'reconcile_pending_changes')).toBe(3);
      expect(ok.body).toContain('process_resident_memory_bytes');
      expect((await get(port, '/metrics?x=1')).status).toBe(200);
      expect((await get(port, '/')).status).toBe(404);
      expect((await get(port, '/healthz')).status).toBe(404);
      expect((await get(port, '/metrics', 'POST')).status).toBe(405);
      const head = await get(port, '/metrics', 'HEAD');
      expect(head.status).toBe(200);
      expect(head.body).toBe('');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('rejects when the port is taken, naming the port and METRICS_PORT', async () => {
    const m = new Metrics({ defaultMetrics: false });
    const first = await startMetricsServer(m, 0, '127.0.0.1');
    try {
      const { port } = first.address() as AddressInfo;
      await expect(startMetricsServer(m, port, '127.0.0.1')).rejects.toThrow(new RegExp(`port ${port} on 127.0.0.1 is already in use \\(set by METRICS_PORT\\)`));
    } finally {
      await new Promise<void>((r) => first.close(() => r()));
    }
  });
});
