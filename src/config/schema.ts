import { z } from 'zod';
import { parseDuration } from '../core/duration';

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

const permission = z.tuple([z.string().min(1), z.string().min(1)]);

const mapping = z
  .object({
    group: z.string().min(1).optional(),
    groupExternalId: z.string().min(1).optional(),
    groupPattern: z.string().min(1).optional(),
    roles: z.array(z.string().min(1)).min(1),
  })
  .strict()
  .refine((m) => [m.group, m.groupExternalId, m.groupPattern].filter((x) => x !== undefined).length === 1, {
    message: 'each mapping needs exactly one of group, groupExternalId or groupPattern',
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
        trustProxy: z.union([z.boolean(), z.number(), z.string()]).default(false),
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
    database: z.object({ path: z.string().min(1).default('./data/airflow-scim.db') }).strict().prefault({}),
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
          .nullable()
          .default(null),
        apiVersion: z.enum(['2', '3', 'auto']).default('auto'),
        /** The API service account (AIRFLOW_USERNAME / AIRFLOW_PASSWORD or AIRFLOW_PASSWORD_FILE). */
        apiUser: z.string().min(1).nullable().default(null),
        apiPassword: z.string().min(1).nullable().default(null),
        apiPasswordFile: z.string().min(1).nullable().default(null),
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
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type AirflowConfig = Config['airflow'];
export type RolesConfig = Config['roles'];
export type SafetyConfig = Config['safety'];
