import type { RequestHandler } from 'express';
import { ScimError } from './errors';

/** A known path with a method it does not serve: 405 with an Error body and Allow (RFC 9110 §15.5.6). */
export const methodNotAllowed =
  (...allowed: string[]): RequestHandler =>
  (req, _res, next) => {
    next(new ScimError(405, `method ${req.method} is not supported on this endpoint`, undefined, { Allow: allowed.join(', ') }));
  };
