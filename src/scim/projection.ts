import { extensionUrn, resolveAttribute, type ResourceType } from '../core/schema';

/** RFC 7644 §3.9: which attributes a response carries. Names as the client wrote them. */
export interface Projection {
  attributes?: string[];
  excludedAttributes?: string[];
}

type Json = Record<string, unknown>;
/** A tree of canonical key paths: true = the whole value. */
type Tree = Map<string, Tree | true>;

/** Resolves a written name to a canonical key path; undefined for attributes we do not know (ignored). */
function canonicalPath(rt: ResourceType, written: string): string[] | undefined {
  // Tolerate a value filter (`emails[type eq "work"]`, seen from the Azure collection): select the attribute.
  const name = written.replace(/\[.*\]/, '').trim();
  const urn = extensionUrn(rt, name);
  if (urn) return [urn];
  return resolveAttribute(rt, name)?.path;
}

function treeOf(rt: ResourceType, names: string[]): Tree {
  const root: Tree = new Map();
  for (const written of names) {
    const path = canonicalPath(rt, written);
    if (!path) continue;
    let node = root;
    for (let i = 0; i < path.length; i++) {
      const cur = node.get(path[i]);
      if (cur === true) break;
      if (i === path.length - 1) {
        node.set(path[i], true);
        break;
      }
      const next: Tree = cur ?? new Map();
      node.set(path[i], next);
      node = next;
    }
  }
  return root;
}

function pick(value: unknown, tree: Tree): unknown {
  if (Array.isArray(value)) return value.map((v) => pick(v, tree));
  if (!value || typeof value !== 'object') return value;
  const out: Json = {};
  for (const [k, sub] of tree) {
    if (!(k in (value as Json))) continue;
    out[k] = sub === true ? (value as Json)[k] : pick((value as Json)[k], sub);
  }
  return out;
}

function drop(value: unknown, tree: Tree): unknown {
  if (Array.isArray(value)) return value.map((v) => drop(v, tree));
  if (!value || typeof value !== 'object') return value;
  const out: Json = { ...(value as Json) };
  for (const [k, sub] of tree) {
    if (!(k in out)) continue;
    if (sub === true) delete out[k];
    else out[k] = drop(out[k], sub);
  }
  return out;
}

/**
 * Applies attributes / excludedAttributes to a serialized resource (RFC 7644 §3.4.2.5, §3.9).
 * `attributes` wins when both are given. id, schemas and meta.resourceType (returned "always") stay.
 */
export function project(resource: Json, rt: ResourceType, p: Projection): Json {
  let out: Json;
  if (p.attributes?.length) out = pick(resource, treeOf(rt, p.attributes)) as Json;
  else if (p.excludedAttributes?.length) out = drop(resource, treeOf(rt, p.excludedAttributes)) as Json;
  else return resource;
  const meta = resource.meta as Json | undefined;
  const kept: Json = { schemas: resource.schemas, id: resource.id, ...out };
  if (meta) kept.meta = { ...((out.meta as Json | undefined) ?? {}), resourceType: meta.resourceType };
  return kept;
}

/** Does the response need the member list? If not, the route asks the store for members:false. */
export function wantsMembers(p: Projection): boolean {
  return wants(p, 'Group', 'members');
}

/** Does the response need a (costly, computed) top-level attribute such as User.groups? */
export function wants(p: Projection, rt: ResourceType, attribute: string): boolean {
  const hit = (names: string[]) => names.some((n) => canonicalPath(rt, n)?.[0] === attribute);
  const exactlyExcluded = (names: string[]) => names.some((n) => {
    const path = canonicalPath(rt, n);
    return path?.length === 1 && path[0] === attribute;
  });
  if (p.attributes?.length) return hit(p.attributes);
  if (p.excludedAttributes?.length) return !exactlyExcluded(p.excludedAttributes);
  return true;
}
