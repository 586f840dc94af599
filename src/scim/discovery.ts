import { Router, type Request } from 'express';
import { CORE_GROUP, CORE_USER, ENTERPRISE_USER, SCHEMAS, type SchemaDef } from '../core/schema';
import { ScimError } from './errors';
import { methodNotAllowed } from './method-not-allowed';
import { sendJson, urlBase, type ScimRouteDeps } from './route-kit';
import { listResponse, type ScimResource } from './serialize';

const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';
const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';

/** RFC 7643 §5: advertises only what the routes really do. */
export function serviceProviderConfig(base: string, maxResults: number): ScimResource {
  return {
    schemas: [SPC_SCHEMA],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description:
          'A long-lived bearer token (RFC 6750) made with "airflow-scim tokens create". Send "Authorization: Bearer <token>", or the bare token as the whole Authorization header (Okta header mode).',
        specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
  };
}

/** RFC 7643 §7 schema representation. */
export function schemaResource(s: SchemaDef, base: string): ScimResource {
  return {
    schemas: [SCHEMA_SCHEMA],
    id: s.id,
    name: s.name,
    description: s.description,
    attributes: s.attributes,
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${s.id}` },
  };
}

/** RFC 7643 §6 resource types. */
export function resourceTypes(base: string): ScimResource[] {
  const rt = (id: string, endpoint: string, description: string, schema: string, extensions: string[]) => ({
    schemas: [RESOURCE_TYPE_SCHEMA],
    id,
    name: id,
    endpoint,
    description,
    schema,
    ...(extensions.length ? { schemaExtensions: extensions.map((e) => ({ schema: e, required: false })) } : {}),
    meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/${id}` },
  });
  return [
    rt('User', '/Users', 'User Account', CORE_USER, [ENTERPRISE_USER]),
    rt('Group', '/Groups', 'Group (maps to Airflow roles)', CORE_GROUP, []),
  ];
}

/** /ServiceProviderConfig, /Schemas, /ResourceTypes (RFC 7644 §4). Mounted behind auth. */
export function discoveryRoutes(deps: ScimRouteDeps): Router {
  const router = Router();
  const base = (req: Request) => urlBase(req, deps).base;

  router
    .route('/ServiceProviderConfig')
    .get((req, res) => {
      sendJson(res, 200, serviceProviderConfig(base(req), deps.config.scim.maxResults));
    })
    .all(methodNotAllowed('GET'));

  router
    .route('/Schemas')
    .get((req, res) => {
      const all = SCHEMAS.map((s) => schemaResource(s, base(req)));
      sendJson(res, 200, listResponse(all, all.length, 1));
    })
    .all(methodNotAllowed('GET'));

  router
    .route('/Schemas/:urn')
    .get((req, res) => {
      const urn = req.params.urn.toLowerCase();
      const s = SCHEMAS.find((x) => x.id.toLowerCase() === urn);
      if (!s) throw new ScimError(404, `schema ${req.params.urn} not found`);
      sendJson(res, 200, schemaResource(s, base(req)));
    })
    .all(methodNotAllowed('GET'));

  router
    .route('/ResourceTypes')
    .get((req, res) => {
      const all = resourceTypes(base(req));
      sendJson(res, 200, listResponse(all, all.length, 1));
    })
    .all(methodNotAllowed('GET'));

  router
    .route('/ResourceTypes/:name')
    .get((req, res) => {
      const name = req.params.name.toLowerCase();
      const found = resourceTypes(base(req)).find((r) => String(r.id).toLowerCase() === name);
      if (!found) throw new ScimError(404, `resource type ${req.params.name} not found`);
      sendJson(res, 200, found);
    })
    .all(methodNotAllowed('GET'));

  return router;
}
