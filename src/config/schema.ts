import { isIP } from 'node:net';
import { z } from 'zod';
import { parseDuration } from '../core/duration';
import { databaseSchema } from './database';

/** A duration written as "250ms", "10s", "5m", "1h" or "90d"; parsed to milliseconds. */
const duration = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    try {
      return parseDuration(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
      return z.NEVER;
    }
  });

/** "10.0.0.7", "10.0.0.0/8", "fd00::/8": an IP address, optionally with a prefix length. */
function isAddressOrCidr(s: string): boolean {
  const [addr, prefix, ...rest] = s.split('/');
  const family = isIP(addr);
  if (!family || rest.length) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

/**
 * Which proxies may set X-Forwarded-For (the client address keys the auth-failure limiter and the logs): a hop
 * count, or the trusted proxies' addresses. `true` would believe any client's X-Forwarded-For, so it is refused.
 */
const trustProxy = z
  .union([z.boolean(), z.number(), z.array(z.unknown()), z.string()])
  .optional()
  .transform((v, ctx): number | string[] => {
  if (v === undefined || v === false) return 0;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && isAddressOrCidr(x))) return v as string[];
  ctx.addIssue({
    code: 'custom',
    message: 'must be a hop count (0, 1, ...) or a list of trusted proxy addresses or CIDRs such as [10.0.0.0/8]; true is refused: it believes any client-sent X-Forwarded-For',
  });
  return z.NEVER;
});

const permission = z.tuple([z.string().min(1), z.string().min(1)]);

const mapping = z
  .object({
    group: z.string().min(1).optional(),
    groupExternalId: z.string().min(1).optional(),
    groupPattern: z.string().min(1).optional(),
    /** A SCIM filter on the user (RFC 7644 §3.4.2.2), e.g. 'urn:…:enterprise:2.0:User:department eq "Finance"'. */
    filter: z.string().min(1).optional(),
    roles: z.array(z.string().min(1)).min(1),
  })
  .strict()
  .refine((m) => [m.group, m.groupExternalId, m.groupPattern, m.filter].filter((x) => x !== undefined).length === 1, {
    message: 'each mapping needs exactly one of group, groupExternalId, groupPattern or filter',
  });

export const configSchema = z
  .object({
    server: z
      .object({
        port: z.coerce.number().int().min(0).max(65535).default(8080),
        host: z.string().default('0.0.0.0'),
        metricsPort: z.coerce.number().int().min(0).max(65535).default(9464),
        /** Public base URL used in meta.location, e.g. https://airflow-scim.example.com. Default: from the request. */
        publicUrl: z.string().url().nullable().default(null),
        bodyLimit: z.string().default('1mb'),
        trustProxy,
        shutdownTimeout: duration.default(25_000),
        /** Idle keep-alive connections are kept this long: above the 60 s idle timeout of common load balancers. */
        keepAliveTimeout: duration.default(65_000),
        /** Time to receive a request's headers; must exceed keepAliveTimeout (Node closes idle sockets by it). */
        headersTimeout: duration.default(66_000),
        /** Time to receive a whole request (headers and body). */
        requestTimeout: duration.default(120_000),
        /** Connections beyond this are refused; 0 = no limit. */
        maxConnections: z.number().int().min(0).default(1000),
      })
      .strict()
      .prefault({}),
    /** SQLite (path) by default; PostgreSQL when url is set, and then path is ignored (database.ts). */
    database: databaseSchema,
    logging: z
      .object({
        level: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly']).default('info'),
        /** pretty: readable lines; json: one object per line; auto: pretty on a terminal, JSON otherwise. */
        format: z.enum(['auto', 'pretty', 'json']).default('auto'),
      })
      .strict()
      .prefault({}),
    scim: z
      .object({
        /** Advertised filter.maxResults; every `count` is clamped to it (RFC 7644 §3.4.2.4). */
        maxResults: z.number().int().min(1).max(10_000).default(200),
        defaultCount: z.number().int().min(1).max(10_000).default(100),
        /** Bootstrap bearer token (SCIM_TOKEN); tokens made with `tokens create` work beside it. */
        token: z.string().min(16, 'SCIM_TOKEN must be at least 16 characters').nullable().default(null),
        authFailures: z
          .object({ limit: z.number().int().min(1).default(10), window: duration.default(60_000) })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    airflow: z
      .object({
        /** Base URL of the Airflow webserver / API server, e.g. http://airflow-webserver:8080. */
        url: z
          .string()
          .url()
          .refine((u) => /^https?:\/\//i.test(u), 'must start with http:// or https:// (e.g. http://airflow-webserver:8080)')
          .refine((u) => !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(u), {
            // The URL is shown by /readyz, `status` and the start-up log: a password in it would leak.
            message: 'must not carry credentials: set AIRFLOW_USERNAME and AIRFLOW_PASSWORD_FILE instead',
          })
          .nullable()
          .default(null),
        apiVersion: z.enum(['2', '3', 'auto']).default('auto'),
        /** The API service account (AIRFLOW_USERNAME / AIRFLOW_PASSWORD or AIRFLOW_PASSWORD_FILE). */
        apiUser: z.string().min(1).nullable().default(null),
        apiPassword: z.string().min(1).nullable().default(null),
        apiPasswordFile: z.string().min(1).nullable().default(null),
        /**
         * Airflow 3 only: sign our own token with Airflow's shared [api_auth] jwt_secret instead of POST /auth/token
         * (needed under SSO with FAB provider 3.11+). jwtUserId is the service account's id in `airflow users list`.
         */
        jwtSecret: z.string().min(1).nullable().default(null),
        jwtSecretFile: z.string().min(1).nullable().default(null),
        jwtUserId: z.string().regex(/^\d+$/, 'must be the numeric user id shown by `airflow users list`').nullable().default(null),
        /** [api_auth] jwt_audience and jwt_issuer of the Airflow deployment. */
        jwtAudience: z.string().min(1).default('apache-airflow'),
        jwtIssuer: z.string().min(1).nullable().default(null),
        /**
         * false: never POST users; an account appears at the user's first SSO login (FAB AUTH_USER_REGISTRATION) and
         * the next run adopts it and sets its roles. For SSO deployments where Airflow lets no one create users
         * (FAB deletes can_create on Users at start unless [fab] update_fab_perms is off).
         */
        createUsers: z.boolean().default(true),
        /** Template of managed Airflow usernames: {userName} {externalId} {email} {emailLocalPart} {id}. */
        username: z.string().min(1).default('{userName}'),
        timeout: duration.default(10_000),
        retries: z.number().int().min(0).max(10).default(4),
        concurrency: z.number().int().min(1).max(32).default(4),
      })
      .strict()
      .prefault({}),
    roles: z
      .object({
        mappings: z.array(mapping).default([]),
        default: z.array(z.string().min(1)).default([]),
        custom: z.record(z.string().min(1), z.object({ permissions: z.array(permission) }).strict()).default({}),
      })
      .strict()
      .prefault({}),
    deprovision: z.enum(['strip-roles', 'delete']).default('strip-roles'),
    safety: z
      .object({
        protectedUsers: z.array(z.string().min(1)).default(['admin']),
        maxDeprovisions: z.number().int().min(0).default(10),
        maxDeprovisionPercent: z.number().min(0).max(100).default(10),
        window: duration.default(3_600_000),
      })
      .strict()
      .prefault({}),
    reconcile: z
      .object({
        enabled: z.boolean().default(true),
        /** node-cron expression of the full drift-correcting run. */
        schedule: z.string().default('*/5 * * * *'),
        debounce: duration.default(250),
        /** Longest wait between retries while Airflow is down. */
        maxBackoff: duration.default(60_000),
      })
      .strict()
      .prefault({}),
    admin: z
      .object({
        /** The admin API (GET /admin/v1/reports/access) listens here; null = off. Never the SCIM or metrics port. */
        port: z.coerce.number().int().min(0).max(65535).nullable().default(null),
        /** Its bearer token (ADMIN_TOKEN / ADMIN_TOKEN_FILE): a separate secret, never a SCIM token. */
        token: z.string().min(24, 'must be at least 24 characters').nullable().default(null),
        tokenFile: z.string().min(1).nullable().default(null),
      })
      .strict()
      .prefault({}),
    notify: z
      .object({
        webhook: z
          .object({
            /** Posted {"text": …} (accepted by Slack and Teams incoming webhooks) when changes are held and released. */
            url: z.string().url().refine((u) => /^https?:\/\//i.test(u), 'must start with http:// or https://').nullable().default(null),
            timeout: duration.default(5_000),
            retries: z.number().int().min(0).max(10).default(3),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type AirflowConfig = Config['airflow'];
export type RolesConfig = Config['roles'];
export type SafetyConfig = Config['safety'];
