import { randomUUID } from 'node:crypto';
import type express from 'express';
import type { Test } from 'supertest';
import request from 'supertest';
import { configSchema, type Config, type ConfigInput } from '../../src/config/schema';
import { ManualClock, type IdGenerator } from '../../src/core/clock';
import { silentLogger, type Logger } from '../../src/logger';
import { createApp, type HealthChecks } from '../../src/server/app';
import type { ScimMetrics } from '../../src/scim/router';
import { TokenService } from '../../src/scim/tokens';
import type { AuditLog } from '../../src/store/audit-types';
import { openDatabase, type Db } from '../../src/store/database';
import { MemoryAuditLog } from '../../src/store/memory-audit';
import { MemoryIdentityStore } from '../../src/store/memory-identity';
import { MemoryTokenStore } from '../../src/store/memory-tokens';
import { sqliteDriverFor } from '../../src/store/sql/sqlite-driver';
import { SqlAuditLog } from '../../src/store/sql/audit';
import { SqlIdentityStore } from '../../src/store/sql/identity';
import type { PgDriver } from '../../src/store/sql/pg-driver';
import { SqlTokenStore } from '../../src/store/sql/tokens';
import type { TokenStore } from '../../src/store/token-types';
import type { IdentityStore } from '../../src/store/types';
import { PgSchemaPool, type PgTestSchema } from '../support/pg-schema';

export const SCIM = 'application/scim+json';
export const BASE = '/scim/v2';
export const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const CORE_GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** The identity-store backends an app can be built over; HTTP tests that run per backend run on all of them. */
export const BACKENDS = ['memory', 'sqlite', 'postgres'] as const;
export type Backend = (typeof BACKENDS)[number];

/**
 * PostgreSQL schemas for the apps of this test file: one per app open at once, emptied before reuse, dropped
 * after the file's last test (a top-level afterAll: this module is imported by jest test files only).
 */
const pgSchemas = new PgSchemaPool();
afterAll(() => pgSchemas.drain());

export interface TestAppOptions {
  /**
   * 'memory' (default), 'sqlite' (openDatabase(':memory:')) or 'postgres' (a PgDriver on an empty schema of the
   * test server). The audit log and token store follow; `store`, when given, replaces only the identity store.
   */
  backend?: Backend;
  /**
   * With backend 'postgres': build on this schema, shared with the other apps built on it (replicas of one
   * service, each with a pool of its own); the caller empties and drops it. Each app then has its own token name.
   */
  pgSchema?: PgTestSchema;
  /** Use this store instead (e.g. a spy or one that throws). */
  store?: IdentityStore;
  /** Deterministic ids for fixture replays, e.g. sequentialIds('u-'). Default: the store's uuid generator. */
  newId?: IdGenerator;
  clock?: ManualClock;
  /** Overrides of the scim / server config sections (validated by the real schema). */
  config?: { scim?: ConfigInput['scim']; server?: ConfigInput['server'] };
  /** The bootstrap SCIM_TOKEN; default null (the helper makes a named token instead). */
  bootstrapToken?: string | null;
  metrics?: ScimMetrics;
  health?: Partial<HealthChecks>;
  logger?: Logger;
  onChange?: () => void;
}

export interface TestApp {
  app: express.Express;
  store: IdentityStore;
  audit: AuditLog;
  tokens: TokenService;
  tokenStore: TokenStore;
  /** A valid secret of the token named "test" (test-<uuid> on a shared PostgreSQL schema). */
  token: string;
  clock: ManualClock;
  config: Pick<Config, 'scim' | 'server'>;
  /** How many times onChange fired. */
  changes: () => number;
  /** supertest request with Authorization and Accept set; send bodies with .send(json) (sent as application/scim+json). */
  scim: {
    get(path: string): Test;
    post(path: string, body?: unknown): Test;
    put(path: string, body?: unknown): Test;
    patch(path: string, body?: unknown): Test;
    delete(path: string): Test;
  };
  close(): Promise<void>;
}

/** Ids "<prefix>1", "<prefix>2", ... */
export function sequentialIds(prefix = 'id-'): IdGenerator {
  let n = 0;
  return () => `${prefix}${++n}`;
}

/** createApp over in-memory (or SQLite :memory:, or PostgreSQL) stores, a manual clock, a silent logger and one valid token. */
export async function buildTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const clock = opts.clock ?? new ManualClock();
  const parsed = configSchema.parse({ scim: opts.config?.scim ?? {}, server: opts.config?.server ?? {} });
  const config = { scim: parsed.scim, server: parsed.server };
  let db: Db | undefined;
  let pg: { schema: PgTestSchema; driver: PgDriver; pooled: boolean } | undefined;
  let audit: AuditLog;
  let tokenStore: TokenStore;
  let store: IdentityStore;
  if (opts.backend === 'sqlite') {
    db = openDatabase(':memory:');
    audit = new SqlAuditLog(sqliteDriverFor(db));
    tokenStore = new SqlTokenStore(sqliteDriverFor(db));
    store = opts.store ?? new SqlIdentityStore(sqliteDriverFor(db), clock, opts.newId);
  } else if (opts.backend === 'postgres') {
    const schema = opts.pgSchema ?? (await pgSchemas.acquire());
    pg = { schema, driver: schema.driver(), pooled: !opts.pgSchema };
    audit = new SqlAuditLog(pg.driver);
    tokenStore = new SqlTokenStore(pg.driver);
    store = opts.store ?? new SqlIdentityStore(pg.driver, clock, opts.newId);
  } else {
    audit = new MemoryAuditLog();
    tokenStore = new MemoryTokenStore();
    store = opts.store ?? new MemoryIdentityStore(audit, clock, opts.newId);
  }
  const tokens = new TokenService(tokenStore, clock, opts.bootstrapToken ?? null);
  const { secret } = await tokens.create(opts.pgSchema ? `test-${randomUUID()}` : 'test');
  let changes = 0;
  const app = createApp({
    store,
    audit,
    tokens,
    config,
    clock,
    logger: opts.logger ?? silentLogger(),
    onChange: () => {
      changes++;
      opts.onChange?.();
    },
    metrics: opts.metrics,
    health: {
      live: opts.health?.live ?? (() => true),
      ready: opts.health?.ready ?? (async () => ({ ready: true, checks: { database: { ok: true } } })),
    },
  });
  const auth = (t: Test) => t.set('Authorization', `Bearer ${secret}`).set('Accept', SCIM);
  const withBody = (t: Test, body: unknown) => (body === undefined ? auth(t) : auth(t).set('Content-Type', SCIM).send(JSON.stringify(body)));
  return {
    app,
    store,
    audit,
    tokens,
    tokenStore,
    token: secret,
    clock,
    config,
    changes: () => changes,
    scim: {
      get: (path) => auth(request(app).get(BASE + path)),
      post: (path, body) => withBody(request(app).post(BASE + path), body),
      put: (path, body) => withBody(request(app).put(BASE + path), body),
      patch: (path, body) => withBody(request(app).patch(BASE + path), body),
      delete: (path) => auth(request(app).delete(BASE + path)),
    },
    close: async () => {
      await store.close();
      if (db?.open) db.close();
      if (pg) {
        await pg.driver.close();
        if (pg.pooled) pgSchemas.release(pg.schema);
        pg = undefined;
      }
    },
  };
}

/** A minimal valid user body (Okta-shaped). */
export function userBody(userName: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemas: [CORE_USER],
    userName,
    name: { givenName: 'Given', familyName: 'Family' },
    emails: [{ primary: true, value: userName.includes('@') ? userName : `${userName}@example.com`, type: 'work' }],
    active: true,
    ...extra,
  };
}

export const groupBody = (displayName: string, members: string[] = [], extra: Record<string, unknown> = {}) => ({
  schemas: [CORE_GROUP],
  displayName,
  members: members.map((value) => ({ value })),
  ...extra,
});

export const patchBody = (...Operations: Record<string, unknown>[]) => ({ schemas: [PATCH_OP], Operations });

/** Creates a user over HTTP and returns its id. */
export async function createUser(t: TestApp, userName: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await t.scim.post('/Users', userBody(userName, extra)).expect(201);
  return res.body.id as string;
}

/** Creates a group over HTTP and returns its id. */
export async function createGroup(t: TestApp, displayName: string, members: string[] = []): Promise<string> {
  const res = await t.scim.post('/Groups', groupBody(displayName, members)).expect(201);
  return res.body.id as string;
}

/** Asserts an RFC 7644 §3.12 error body (status as a string) and returns it. */
export function expectScimError(res: { status: number; body: Record<string, unknown>; headers: Record<string, string> }, status: number, scimType?: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/scim\+json/);
  expect(res.body.schemas).toEqual([ERROR]);
  expect(res.body.status).toBe(String(status));
  expect(typeof res.body.detail).toBe('string');
  if (scimType) expect(res.body.scimType).toBe(scimType);
  return res.body;
}
