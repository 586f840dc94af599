import { resolveAttribute, type ResourceType } from '../core/schema';
import type { ListQuery, SortOrder } from '../store/types';
import { badRequest } from './errors';
import { parseFilter } from './filter';
import type { Projection } from './projection';

export const SEARCH_REQUEST = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
/** Generous bound so a pathological filter cannot tie up the parser. */
const MAX_FILTER_LENGTH = 10_000;
/** Keeps OFFSET arithmetic in safe-integer range. */
const MAX_START_INDEX = 2 ** 31;

export interface ListLimits {
  maxResults: number;
  defaultCount: number;
}

export interface ParsedList {
  query: ListQuery;
  projection: Projection;
}

type Params = Record<string, unknown>;

/**
 * The query string as flat params: `+` decoded as a space (Entra sends `filter=userName+eq+"x"`), names
 * case-insensitive, the first of repeated params kept. Parsed here so Express's query parser does not matter.
 */
export function queryParams(url: string): Params {
  const q = url.indexOf('?');
  const out: Params = {};
  if (q < 0) return out;
  for (const [k, v] of new URLSearchParams(url.slice(q + 1))) {
    const key = k.toLowerCase();
    if (!(key in out)) out[key] = v;
  }
  return out;
}

/** Params of a POST .search body (RFC 7644 §3.4.3), names lower-cased. */
export function searchBodyParams(body: unknown): Params {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('invalidSyntax', 'a search request body must be a JSON object');
  const out: Params = {};
  for (const [k, v] of Object.entries(body as Params)) out[k.toLowerCase()] = v;
  const schemas = out.schemas;
  if (schemas !== undefined && !(Array.isArray(schemas) && schemas.some((s) => typeof s === 'string' && s.toLowerCase() === SEARCH_REQUEST.toLowerCase()))) {
    throw badRequest('invalidSyntax', `schemas must contain "${SEARCH_REQUEST}"`);
  }
  return out;
}

function integer(name: string, v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*[-+]?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw badRequest('invalidValue', `${name} must be an integer`);
  return Math.trunc(n);
}

function text(name: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest('invalidValue', `${name} must be a string`);
  return v.trim() === '' ? undefined : v;
}

/** Comma list (query string) or array of strings (search body). */
function names(name: string, v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  const parts = Array.isArray(v) ? v : typeof v === 'string' ? v.split(',') : undefined;
  if (!parts || parts.some((p) => typeof p !== 'string')) throw badRequest('invalidValue', `${name} must be a comma-separated list of attribute names`);
  const list = (parts as string[]).map((p) => p.trim()).filter(Boolean);
  return list.length ? list : undefined;
}

/**
 * Parses and clamps list parameters once, at the edge (RFC 7644 §3.4.2.4): startIndex < 1 → 1, count < 0 → 0,
 * count > maxResults → maxResults, absent count → defaultCount. Unknown params are ignored.
 * `types` is the resource type(s) searched; sortBy must resolve in one of them.
 */
export function parseListParams(params: Params, types: ResourceType[], limits: ListLimits): ParsedList {
  const startIndex = Math.min(MAX_START_INDEX, Math.max(1, integer('startIndex', params.startindex) ?? 1));
  const requested = integer('count', params.count);
  const count = requested === undefined ? Math.min(limits.defaultCount, limits.maxResults) : Math.min(limits.maxResults, Math.max(0, requested));
  const query: ListQuery = { startIndex, count };

  const filter = text('filter', params.filter);
  if (filter !== undefined) {
    if (filter.length > MAX_FILTER_LENGTH) throw badRequest('invalidFilter', `filter is longer than ${MAX_FILTER_LENGTH} characters`);
    query.filter = parseFilter(filter);
  }

  const sortBy = text('sortBy', params.sortby);
  if (sortBy !== undefined) {
    if (!types.some((rt) => resolveAttribute(rt, sortBy.trim()))) throw badRequest('invalidValue', `cannot sort by unknown attribute "${sortBy}"`);
    query.sortBy = sortBy.trim();
    const order = text('sortOrder', params.sortorder)?.trim().toLowerCase() ?? 'ascending';
    if (order !== 'ascending' && order !== 'descending') throw badRequest('invalidValue', 'sortOrder must be "ascending" or "descending"');
    query.sortOrder = order as SortOrder;
  }

  return { query, projection: parseProjection(params) };
}

/** attributes / excludedAttributes of a single-resource request (RFC 7644 §3.9). */
export function parseProjection(params: Params): Projection {
  const projection: Projection = {};
  const attributes = names('attributes', params.attributes);
  const excluded = names('excludedAttributes', params.excludedattributes);
  if (attributes) projection.attributes = attributes;
  if (excluded) projection.excludedAttributes = excluded;
  return projection;
}
