import { Router, type Request } from 'express';
import type { GroupChange, GroupRecord } from '../store/types';
import { parseListParams, parseProjection, searchBodyParams, type ParsedList } from './list-query';
import { methodNotAllowed } from './method-not-allowed';
import { normalizeGroup } from './normalize';
import { planGroupPatch } from './patch';
import { project, wantsMembers, type Projection } from './projection';
import {
  bodyObject,
  changed,
  notFound,
  notModified,
  paramsOf,
  rejectOtherId,
  sendJson,
  sendResource,
  updateOptions,
  urlBase,
  writeContext,
  writeOptions,
  type ScimRouteDeps,
} from './route-kit';
import { groupToScim, listResponse, type ScimResource } from './serialize';

/**
 * GET /Groups and POST /Groups/.search. excludedAttributes=members (Entra, RFC 7644 §3.9) means the store is
 * asked for members:false, so member lists are never loaded.
 */
export async function listGroups(deps: ScimRouteDeps, req: Request, parsed: ParsedList): Promise<ScimResource> {
  const page = await deps.store.listGroups(parsed.query, { members: wantsMembers(parsed.projection) });
  const url = urlBase(req, deps);
  return listResponse(
    page.resources.map((g) => project(groupToScim(g, url), 'Group', parsed.projection)),
    page.totalResults,
    parsed.query.startIndex,
  );
}

const hasKey = (body: Record<string, unknown>, key: string) => Object.keys(body).some((k) => k.toLowerCase() === key);

/** /Groups (RFC 7644 §3.2–§3.6). Members are users only (Airflow has no nested groups). */
export function groupsRoutes(deps: ScimRouteDeps): Router {
  const router = Router();
  const limits = deps.config.scim;
  const version = (id: string) => async () => (await deps.store.getGroup(id, { members: false }))?.meta.version;
  const render = (req: Request, rec: GroupRecord, projection: Projection) => project(groupToScim(rec, urlBase(req, deps)), 'Group', projection);
  /** Re-reads the written group with members when the response shows them. */
  const reread = async (rec: GroupRecord, projection: Projection): Promise<GroupRecord> => {
    if (!wantsMembers(projection) || rec.members) return rec;
    return (await deps.store.getGroup(rec.id, { members: true })) ?? rec;
  };

  router
    .route('/.search')
    .post(async (req, res) => {
      sendJson(res, 200, await listGroups(deps, req, parseListParams(searchBodyParams(req.body), ['Group'], limits)));
    })
    .all(methodNotAllowed('POST'));

  router
    .route('/')
    .get(async (req, res) => {
      sendJson(res, 200, await listGroups(deps, req, parseListParams(paramsOf(req), ['Group'], limits)));
    })
    .post(async (req, res) => {
      const { data, memberIds } = normalizeGroup(bodyObject(req));
      const projection = parseProjection(paramsOf(req));
      const rec = await deps.store.createGroup(data, memberIds, writeContext(req, res));
      changed(deps, res);
      sendResource(res, 201, render(req, await reread(rec, projection), projection), { created: true });
    })
    .all(methodNotAllowed('GET', 'POST'));

  router
    .route('/:id')
    .get(async (req, res) => {
      const id = req.params.id;
      const projection = parseProjection(paramsOf(req));
      const rec = await deps.store.getGroup(id, { members: wantsMembers(projection) });
      if (!rec) throw notFound('Group', id);
      if (notModified(req, rec.meta.version)) {
        res.set('ETag', `W/"${rec.meta.version}"`).status(304).end();
        return;
      }
      sendResource(res, 200, render(req, rec, projection));
    })
    .put(async (req, res) => {
      // RFC 7644 §3.5.1 full replace. A PUT without a members attribute keeps the members: wiping them would
      // strip Airflow roles, and RFC 7644 §3.5.1 lets the server keep values it is not given.
      const id = req.params.id;
      const body = bodyObject(req);
      rejectOtherId(body, id);
      const { data, memberIds } = normalizeGroup(body);
      const change: GroupChange = hasKey(body, 'members') ? { data, memberOps: [{ op: 'replace', ids: memberIds }] } : { data };
      const projection = parseProjection(paramsOf(req));
      const opts = await updateOptions(req, 'replace', version(id));
      const rec = await deps.store.updateGroup(id, () => change, writeContext(req, res), opts);
      changed(deps, res);
      sendResource(res, 200, render(req, await reread(rec, projection), projection));
    })
    .patch(async (req, res) => {
      // RFC 7644 §3.5.2: 204 (what Entra wants) unless the client asked for attributes back.
      const id = req.params.id;
      const body = bodyObject(req);
      const params = paramsOf(req);
      const opts = await updateOptions(req, 'patch', version(id));
      const rec = await deps.store.updateGroup(id, (cur) => planGroupPatch(cur.data, body, id), writeContext(req, res), opts);
      changed(deps, res);
      if (params.attributes === undefined && params.excludedattributes === undefined) {
        res.set('ETag', `W/"${rec.meta.version}"`).status(204).end();
        return;
      }
      const projection = parseProjection(params);
      sendResource(res, 200, render(req, await reread(rec, projection), projection));
    })
    .delete(async (req, res) => {
      const id = req.params.id;
      const opts = await writeOptions(req, version(id));
      await deps.store.deleteGroup(id, writeContext(req, res), opts);
      changed(deps, res);
      res.status(204).end();
    })
    .all(methodNotAllowed('GET', 'PUT', 'PATCH', 'DELETE'));

  return router;
}

