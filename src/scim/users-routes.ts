import { Router, type Request } from 'express';
import type { UserRecord } from '../store/types';
import { parseListParams, parseProjection, searchBodyParams, type ParsedList } from './list-query';
import { normalizeUser } from './normalize';
import { applyUserPatch } from './patch';
import { project, wants, type Projection } from './projection';
import {
  changed,
  notFound,
  notModified,
  paramsOf,
  rejectOtherId,
  sendJson,
  sendResource,
  updateOptions,
  urlBase,
  userBodyObject,
  writeContext,
  writeOptions,
  type ScimRouteDeps,
} from './route-kit';
import { listResponse, userToScim, type GroupRef, type ScimResource, type UrlBase } from './serialize';
import { methodNotAllowed } from './method-not-allowed';

/** Serializes users for one response; a user's groups and their names come from one store read. */
export function userSerializer(deps: ScimRouteDeps, url: UrlBase, projection: Projection) {
  const withGroups = wants(projection, 'User', 'groups');
  const groupsOf = async (userId: string): Promise<GroupRef[]> => (await deps.store.groupsOfUser(userId)).map((g) => ({ value: g.id, display: g.displayName }));
  return async (rec: UserRecord): Promise<ScimResource> =>
    project(userToScim(rec, url, withGroups ? await groupsOf(rec.id) : undefined), 'User', projection);
}

/** GET /Users and POST /Users/.search (RFC 7644 §3.4.2, §3.4.3): no match is a 200 with an empty list. */
export async function listUsers(deps: ScimRouteDeps, req: Request, parsed: ParsedList): Promise<ScimResource> {
  const page = await deps.store.listUsers(parsed.query);
  const toScim = userSerializer(deps, urlBase(req, deps), parsed.projection);
  const resources: ScimResource[] = [];
  for (const rec of page.resources) resources.push(await toScim(rec));
  return listResponse(resources, page.totalResults, parsed.query.startIndex);
}

/** /Users (RFC 7644 §3.2–§3.6). */
export function usersRoutes(deps: ScimRouteDeps): Router {
  const router = Router();
  const limits = deps.config.scim;
  const version = (id: string) => async () => (await deps.store.getUser(id))?.meta.version;
  const respond = (req: Request, rec: UserRecord) => userSerializer(deps, urlBase(req, deps), parseProjection(paramsOf(req)))(rec);

  router
    .route('/.search')
    .post(async (req, res) => {
      sendJson(res, 200, await listUsers(deps, req, parseListParams(searchBodyParams(req.body), ['User'], limits)));
    })
    .all(methodNotAllowed('POST'));

  router
    .route('/')
    .get(async (req, res) => {
      sendJson(res, 200, await listUsers(deps, req, parseListParams(paramsOf(req), ['User'], limits)));
    })
    .post(async (req, res) => {
      const data = normalizeUser(userBodyObject(req));
      const rec = await deps.store.createUser(data, writeContext(req, res));
      changed(deps, res);
      sendResource(res, 201, await respond(req, rec), { created: true });
    })
    .all(methodNotAllowed('GET', 'POST'));

  router
    .route('/:id')
    .get(async (req, res) => {
      const id = req.params.id;
      const rec = await deps.store.getUser(id);
      if (!rec) throw notFound('User', id);
      if (notModified(req, rec.meta.version)) {
        res.set('ETag', `W/"${rec.meta.version}"`).status(304).end();
        return;
      }
      sendResource(res, 200, await respond(req, rec));
    })
    .put(async (req, res) => {
      // RFC 7644 §3.5.1: full replace; id and meta in the body are read-only and ignored.
      const id = req.params.id;
      const body = userBodyObject(req);
      rejectOtherId(body, id);
      const data = normalizeUser(body);
      const opts = await updateOptions(req, 'replace', version(id));
      const rec = await deps.store.updateUser(id, () => data, writeContext(req, res), opts);
      changed(deps, res);
      sendResource(res, 200, await respond(req, rec));
    })
    .patch(async (req, res) => {
      // RFC 7644 §3.5.2: atomic; the store runs the pure patch inside its transaction. Entra wants 200 + body.
      const id = req.params.id;
      const body = userBodyObject(req);
      const opts = await updateOptions(req, 'patch', version(id));
      const rec = await deps.store.updateUser(id, (cur) => applyUserPatch(cur.data, body, id), writeContext(req, res), opts);
      changed(deps, res);
      sendResource(res, 200, await respond(req, rec));
    })
    .delete(async (req, res) => {
      const id = req.params.id;
      const opts = await writeOptions(req, version(id));
      await deps.store.deleteUser(id, writeContext(req, res), opts);
      changed(deps, res);
      res.status(204).end();
    })
    .all(methodNotAllowed('GET', 'PUT', 'PATCH', 'DELETE'));

  return router;
}
