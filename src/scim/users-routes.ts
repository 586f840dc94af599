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
  sendResource,
  urlBase,
  userBodyObject,
  writeContext,
  writeOptions,
  type ScimRouteDeps,
} from './route-kit';
import { listResponse, userToScim, type GroupRef, type ScimResource, type UrlBase } from './serialize';
import { methodNotAllowed } from './method-not-allowed';

/** Serializes users for one response; group names are looked up once per response. */
export function userSerializer(deps: ScimRouteDeps, url: UrlBase, projection: Projection) {
  const withGroups = wants(projection, 'User', 'groups');
  const names = new Map<string, string | undefined>();
  const groupsOf = (userId: string): GroupRef[] =>
    deps.store.groupsOfUser(userId).map((gid) => {
      if (!names.has(gid)) names.set(gid, deps.store.getGroup(gid, { members: false })?.data.displayName);
      const display = names.get(gid);
      return display === undefined ? { value: gid } : { value: gid, display };
    });
  return (rec: UserRecord): ScimResource => project(userToScim(rec, url, withGroups ? groupsOf(rec.id) : undefined), 'User', projection);
}

/** GET /Users and POST /Users/.search (RFC 7644 §3.4.2, §3.4.3): no match is a 200 with an empty list. */
export function listUsers(deps: ScimRouteDeps, req: Request, parsed: ParsedList): ScimResource {
  const page = deps.store.listUsers(parsed.query);
  const toScim = userSerializer(deps, urlBase(req, deps), parsed.projection);
  return listResponse(page.resources.map(toScim), page.totalResults, parsed.query.startIndex);
}

/** /Users (RFC 7644 §3.2–§3.6). */
export function usersRoutes(deps: ScimRouteDeps): Router {
  const router = Router();
  const limits = deps.config.scim;
  const version = (id: string) => () => deps.store.getUser(id)?.meta.version;
  const respond = (req: Request, rec: UserRecord) => userSerializer(deps, urlBase(req, deps), parseProjection(paramsOf(req)))(rec);

  router
    .route('/.search')
    .post((req, res) => {
      res.json(listUsers(deps, req, parseListParams(searchBodyParams(req.body), ['User'], limits)));
    })
    .all(methodNotAllowed('POST'));

  router
    .route('/')
    .get((req, res) => {
      res.json(listUsers(deps, req, parseListParams(paramsOf(req), ['User'], limits)));
    })
    .post((req, res) => {
      const data = normalizeUser(userBodyObject(req));
      const rec = deps.store.createUser(data, writeContext(req, res));
      changed(deps, res);
      sendResource(res, 201, respond(req, rec), { created: true });
    })
    .all(methodNotAllowed('GET', 'POST'));

  router
    .route('/:id')
    .get((req, res) => {
      const id = req.params.id;
      const rec = deps.store.getUser(id);
      if (!rec) throw notFound('User', id);
      if (notModified(req, rec.meta.version)) {
        res.set('ETag', `W/"${rec.meta.version}"`).status(304).end();
        return;
      }
      sendResource(res, 200, respond(req, rec));
    })
    .put((req, res) => {
      // RFC 7644 §3.5.1: full replace; id and meta in the body are read-only and ignored.
      const id = req.params.id;
      const body = userBodyObject(req);
      rejectOtherId(body, id);
      const data = normalizeUser(body);
      const rec = deps.store.updateUser(id, () => data, writeContext(req, res), writeOptions(req, version(id)));
      changed(deps, res);
      sendResource(res, 200, respond(req, rec));
    })
    .patch((req, res) => {
      // RFC 7644 §3.5.2: atomic; the store runs the pure patch inside its transaction. Entra wants 200 + body.
      const id = req.params.id;
      const body = userBodyObject(req);
      const rec = deps.store.updateUser(id, (cur) => applyUserPatch(cur.data, body, id), writeContext(req, res), writeOptions(req, version(id)));
      changed(deps, res);
      sendResource(res, 200, respond(req, rec));
    })
    .delete((req, res) => {
      const id = req.params.id;
      deps.store.deleteUser(id, writeContext(req, res), writeOptions(req, version(id)));
      changed(deps, res);
      res.status(204).end();
    })
    .all(methodNotAllowed('GET', 'PUT', 'PATCH', 'DELETE'));

  return router;
}
