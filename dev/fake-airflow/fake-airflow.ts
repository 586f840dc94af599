/**
 * A stateful fake of Airflow's user/role REST API, 2.x or 3.x (../shared/docs/airflow-api.md). Used by the
 * `airflow-scim demo` command and by tests. Faults (latency, 500s, 429s, down) are knobs on `faults`.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { compareVersions } from '../../src/core/version';
import { callName, FakeFaults } from './faults';
import { JwtSigner } from './jwt';
import { FakeAirflowState } from './state';
import { problem, v2Providers, v2Router, type V2Settings } from './v2-routes';
import { v3Router } from './v3-routes';

export interface FakeAirflowOptions {
  version: 2 | 3;
  /** 0 = random. */
  port?: number;
  host?: string;
  adminUser?: string;
  adminPassword?: string;
  /** Reported by the version endpoint; default '2.10.5' or '3.3.2' (the real targets in test/real-airflow). */
  airflowVersion?: string;
  /** apache-airflow-providers-fab version, reported by the providers endpoint; default '1.5.3' or '3.10.2'. */
  fabVersion?: string;
  /** 3.x: FAB AUTH_TYPE; with FAB >= 3.11 only AUTH_DB issues tokens for passwords (real-airflow.md §3). */
  authType?: 'AUTH_DB' | 'AUTH_OAUTH';
  /** 3.x: a fixed [api_auth] jwt_secret (default: random per start, as Airflow does when unset). */
  jwtSecret?: string;
  /** 2.x only: serve just this base path (default: both on ≥ 2.8, '/api/v1' below, doc §0). */
  v2BasePath?: '/auth/fab/v1' | '/api/v1';
  jwtTtlSeconds?: number;
  /** false = the auth manager is not FAB: no user/role API (doc §2.1). */
  fab?: boolean;
  /** 2.x answer to missing/bad credentials (doc §1.6); default 403. */
  authFailureStatus?: 401 | 403;
  /** Seed of the errorRate RNG. */
  seed?: number;
}

export interface FakeAirflow {
  url: string;
  port: number;
  version: 2 | 3;
  airflowVersion: string;
  fabVersion: string;
  /** Base paths serving users/roles. */
  basePaths: string[];
  admin: { username: string; password: string };
  state: FakeAirflowState;
  faults: FakeFaults;
  /** Mutable 2.x settings (authFailureStatus). */
  settings: V2Settings;
  /** Connection refused while down (listener closed, sockets destroyed). */
  setDown(down: boolean): Promise<void>;
  /** Invalidates every issued JWT (3.x), as a rotated jwt_secret would. */
  revokeTokens(): void;
  setJwtTtl(seconds: number): void;
  close(): Promise<void>;
}

export async function startFakeAirflow(opts: FakeAirflowOptions): Promise<FakeAirflow> {
  const version = opts.version;
  const airflowVersion = opts.airflowVersion ?? (version === 2 ? '2.10.5' : '3.3.2');
  const fabVersion = opts.fabVersion ?? (version === 2 ? '1.5.3' : '3.10.2');
  const host = opts.host ?? '127.0.0.1';
  const admin = { username: opts.adminUser ?? 'admin', password: opts.adminPassword ?? 'admin' };
  const fab = opts.fab ?? true;
  const state = new FakeAirflowState(undefined, version);
  state.addUser({ username: admin.username, email: `${admin.username}@example.com`, firstName: 'Admin', lastName: 'User', roles: ['Admin'], password: admin.password });
  const settings: V2Settings = { airflowVersion, authFailureStatus: opts.authFailureStatus ?? 403, fab };
  const jwt = new JwtSigner(opts.jwtTtlSeconds ?? 86_400, undefined, opts.jwtSecret);
  const providers = [
    { package_name: 'apache-airflow-providers-common-sql', description: 'Common SQL', version: version === 2 ? '1.29.0' : '2.4.0' },
    ...(fab ? [{ package_name: 'apache-airflow-providers-fab', description: 'Flask App Builder', version: fabVersion }] : []),
  ];

  let basePaths: string[] = [];
  if (version === 2 && fab) {
    const has28 = compareVersions(airflowVersion, '2.8.0') >= 0;
    basePaths = opts.v2BasePath ? [opts.v2BasePath] : has28 ? ['/auth/fab/v1', '/api/v1'] : ['/api/v1'];
  } else if (version === 3 && fab) basePaths = ['/auth/fab/v1'];

  const app = express();
  app.disable('x-powered-by');
  const sockets = new Set<Socket>();
  let server: http.Server;
  let port = opts.port ?? 0;

  const faults = new FakeFaults(opts.seed ?? 42, async (down) => {
    if (down) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    } else {
      server = http.createServer(app);
      track(server);
      await listen(server, port, host);
    }
  });

  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const errorOut = (res: Response, status: number, message: string): void => {
    if (version === 2) problem(res, airflowVersion, status, message);
    else res.status(status).json({ detail: message });
  };

  // Accounting first, so every call is counted (a faulted one, a malformed one).
  app.use((req: Request, res: Response, next: NextFunction) => {
    const entry = faults.record(req.method, req.originalUrl, callName(req.method, req.path));
    res.on('finish', () => (entry.status = res.statusCode));
    next();
  });
  // The body is read before the added latency, as a real server has it before its handler runs: a client that
  // goes away meanwhile (a killed process) does not stop the call from taking effect, as in Airflow.
  app.use(express.json({ limit: '1mb' }));
  app.use(async (req: Request, res: Response, next: NextFunction) => {
    if (faults.latencyMs > 0) await sleep(faults.latencyMs);
    if (faults.slowPageMs > 0 && req.method === 'GET' && /\/(users|roles|permissions)$/.test(req.path)) await sleep(faults.slowPageMs);
    const d = faults.decide();
    if (d.kind === 'status') {
      if (d.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(d.retryAfterSeconds));
      const msg = d.status === 429 ? 'Too Many Requests' : d.status >= 500 ? 'Internal Server Error (injected)' : 'Injected fault';
      return errorOut(res, d.status, msg);
    }
    next();
  });

  if (version === 2) {
    app.get('/api/v1/version', (_req, res) => void res.json({ version: airflowVersion, git_version: null }));
    app.get('/api/v1/health', (_req, res) =>
      void res.json({ metadatabase: { status: 'healthy' }, scheduler: { status: 'healthy', latest_scheduler_heartbeat: new Date().toISOString() } }));
    for (const base of basePaths) app.use(base, v2Router(state, settings));
    app.get('/api/v1/providers', v2Providers(state, settings, providers));
    if (!fab) {
      // 2.9+: /api/v1 user/role endpoints refuse a non-FAB auth manager (doc §0).
      app.use(/^\/api\/v1\/(users|roles|permissions)/, (_req, res) =>
        problem(res, airflowVersion, 400, 'This endpoint is only available when using the default auth manager FabAuthManager.'));
    }
    app.use('/api', (_req, res) => problem(res, airflowVersion, 404, 'The requested URL was not found on the server.'));
    app.use('/auth', (_req, res) => void res.status(404).type('text/html').send('<h1>404 Not Found</h1>'));
  } else {
    app.get('/api/v2/version', (_req, res) => void res.json({ version: airflowVersion, git_version: null }));
    app.get('/api/v2/monitor/health', (_req, res) =>
      void res.json({ metadatabase: { status: 'healthy' }, scheduler: { status: 'healthy', latest_scheduler_heartbeat: new Date().toISOString() } }));
    app.use(v3Router(state, jwt, { fab, fabVersion, authType: opts.authType ?? 'AUTH_DB', providers }));
  }
  app.use((_req: Request, res: Response) => errorOut(res, 404, 'Not Found'));
  // Malformed JSON bodies and anything unexpected.
  app.use((err: Error & { status?: number; type?: string }, _req: Request, res: Response, _next: NextFunction) => {
    if (err.type === 'entity.parse.failed') {
      if (version === 2) return problem(res, airflowVersion, 400, 'Request body is not valid JSON');
      return void res.status(422).json({ detail: [{ type: 'json_invalid', loc: ['body', 0], msg: 'JSON decode error' }] });
    }
    errorOut(res, err.status ?? 500, err.message);
  });

  function track(s: http.Server): void {
    s.on('connection', (sock) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
    });
  }

  server = http.createServer(app);
  track(server);
  await listen(server, port, host);
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://${host}:${port}`,
    port,
    version,
    airflowVersion,
    fabVersion,
    basePaths,
    admin,
    state,
    faults,
    settings,
    setDown: async (down) => {
      faults.down = down;
      await faults.settled();
    },
    revokeTokens: () => jwt.rotate(),
    setJwtTtl: (s) => jwt.setTtl(s),
    close: async () => {
      await faults.settled();
      if (!server.listening) return;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
    },
  };
}

function listen(server: http.Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
