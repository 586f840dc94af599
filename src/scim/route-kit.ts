import type { Request, Response } from 'express';
import type { Clock } from '../core/clock';
import { longArray } from '../core/json';
import { MAX_MULTI_VALUES } from '../core/limits';
import type { Logger } from '../logger';
import type { AuditLog } from '../store/audit-types';
import type { IdentityStore, UpdateOptions, WriteContext, WriteOptions } from '../store/types';
import type { Config } from '../config/schema';
import { badRequest, ScimError } from './errors';
import { queryParams } from './list-query';
import { apiBase, type ScimResource, type UrlBase } from './serialize';

/** What the resource routes need; a slice of the router deps. */
export interface ScimRouteDeps {
  store: IdentityStore;
  audit: AuditLog;
  config: Pick<Config, 'scim' | 'server'>;
  clock: Clock;
  logger: Logger;
  onChange?: () => void;
}

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/** Query params of this request, decoded the SCIM way (see list-query.ts). */
export const paramsOf = (req: Request) => queryParams(req.originalUrl);

export const urlBase = (req: Request, deps: ScimRouteDeps): UrlBase => ({ base: apiBase(req, deps.config.server.publicUrl) });

/** Who is writing, for the store's audit trail. */
export function writeContext(req: Request, res: Response): WriteContext {
  return {
    actor: String(res.locals.actor ?? 'anonymous'),
    clientIp: req.ip,
    requestId: res.locals.requestId as string | undefined,
    method: req.method,
    path: req.originalUrl.split('?')[0],
  };
}

/** The request body as a JSON object, or 400 invalidSyntax (RFC 7644 §3.12). */
export function bodyObject(req: Request): Record<string, unknown> {
  const body: unknown = req.body;
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('invalidSyntax', 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

/**
 * A User body (POST, PUT, PATCH) whose arrays hold at most MAX_MULTI_VALUES values, so every write stays cheap
 * (RFC 7644 §3.12 invalidValue). Group members are not limited by this.
 */
export function userBodyObject(req: Request): Record<string, unknown> {
  const body = bodyObject(req);
  const at = longArray(body, MAX_MULTI_VALUES);
  if (at !== undefined) throw badRequest('invalidValue', `"${at}" holds more than ${MAX_MULTI_VALUES} values, the most a User accepts`);
  return body;
}

/** PUT may repeat the resource's own id (Okta does); a different one is an attempt to change it. */
export function rejectOtherId(body: Record<string, unknown>, id: string): void {
  for (const [k, v] of Object.entries(body)) {
    if (k.toLowerCase() === 'id' && v !== undefined && v !== null && v !== id) throw badRequest('mutability', 'id is read-only and cannot be changed');
  }
}

/** Entity tags in an If-Match / If-None-Match header: '*' or versions (W/"3", "3"; RFC 7232 §3.1). */
function entityTags(header: string): { any: boolean; versions: number[] } {
  const versions: number[] = [];
  let any = false;
  for (const raw of header.split(',')) {
    const tag = raw.trim();
    if (tag === '*') any = true;
    const m = /^(?:W\/)?"?(\d{1,15})"?$/i.exec(tag);
    if (m) versions.push(Number(m[1]));
  }
  return { any, versions };
}

/**
 * RFC 7644 §3.14 If-Match → the store's ifMatch. `current` is asked only when several tags are listed.
 * An unparseable tag can match nothing, so it becomes version 0 (never issued): a 412.
 */
export async function writeOptions(req: Request, current: () => Promise<number | undefined>): Promise<WriteOptions> {
  const header = req.get('if-match');
  if (!header) return {};
  const { any, versions } = entityTags(header);
  if (any) return {};
  if (versions.length <= 1) return { ifMatch: versions[0] ?? 0 };
  const now = await current();
  return { ifMatch: now !== undefined && versions.includes(now) ? now : versions[0] };
}

/**
 * writeOptions for an update, which says what it is: PUT a replace (RFC 7644 §3.5.1), PATCH a patch (§3.5.2).
 * The store journals and audits it as such.
 */
export async function updateOptions(req: Request, kind: NonNullable<UpdateOptions['kind']>, current: () => Promise<number | undefined>): Promise<UpdateOptions> {
  return { ...(await writeOptions(req, current)), kind };
}

/** RFC 7644 §3.14 If-None-Match on GET: true when the client's copy is current (answer 304). */
export function notModified(req: Request, version: number): boolean {
  const header = req.get('if-none-match');
  if (!header) return false;
  const { any, versions } = entityTags(header);
  return any || versions.includes(version);
}

/**
 * A SCIM JSON body (RFC 7644 §3.1, §8.1): serialised once and written as is, without Express's res.json (which
 * re-parses the Content-Type to add a charset it already has, and hashes the body for an ETag that is off).
 */
export function sendJson(res: Response, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', SCIM_CONTENT_TYPE);
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** One resource with its ETag (RFC 7644 §3.14: W/"version", known from meta) and, on create, Location (§3.3). */
export function sendResource(res: Response, status: number, body: ScimResource, opts: { created?: boolean } = {}): void {
  const meta = body.meta as { version?: string; location?: string } | undefined;
  if (meta?.version) res.setHeader('ETag', meta.version);
  if (opts.created && meta?.location) res.setHeader('Location', meta.location);
  sendJson(res, status, body);
}

export function notFound(resourceType: 'User' | 'Group', id: string): ScimError {
  return new ScimError(404, `${resourceType} ${id} not found`);
}

/** Wakes the reconciler; its failure must not fail the committed write. */
export function changed(deps: ScimRouteDeps, res: Response): void {
  try {
    deps.onChange?.();
  } catch (err) {
    deps.logger.error('onChange callback failed', { requestId: res.locals.requestId, err: (err as Error).stack });
  }
}
