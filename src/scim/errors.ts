import { ConflictError, InvalidMemberError, InvalidQueryError, NotFoundError, PreconditionFailedError } from '../store/types';

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** RFC 7644 §3.12 scimType values. */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive';

/** The one error type that reaches the wire (STYLE habit 3). */
export class ScimError extends Error {
  constructor(
    readonly status: number,
    detail: string,
    readonly scimType?: ScimType,
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'ScimError';
  }
  get detail(): string {
    return this.message;
  }
  /** RFC 7644 §3.12: status is a string. */
  toBody(): Record<string, unknown> {
    return {
      schemas: [ERROR_SCHEMA],
      status: String(this.status),
      ...(this.scimType ? { scimType: this.scimType } : {}),
      detail: this.message,
    };
  }
}

export const badRequest = (scimType: ScimType, detail: string) => new ScimError(400, detail, scimType);

/**
 * A string that holds U+0000 or an unpaired surrogate (core/json.ts isUnstorable), refused at the boundary for every
 * backend alike: 400 invalidValue (RFC 7644 §3.12), `where` naming the attribute path or the part of the request.
 */
export const unstorableValue = (where: string) =>
  badRequest('invalidValue', `${where} holds U+0000 or an unpaired UTF-16 surrogate, which cannot be stored (RFC 8259 §8.2)`);

/**
 * Maps store errors to SCIM errors, once. Anything unknown becomes null: the caller answers 500 with a
 * generic detail and a correlation id (never 404: to an IdP, 404 means "re-create it").
 */
export function toScimError(err: unknown): ScimError | null {
  if (err instanceof ScimError) return err;
  if (err instanceof NotFoundError) return new ScimError(404, `${err.resourceType} ${err.id} not found`);
  if (err instanceof ConflictError) return new ScimError(409, err.message, 'uniqueness');
  if (err instanceof PreconditionFailedError) return new ScimError(412, err.message);
  if (err instanceof InvalidMemberError) return new ScimError(400, err.message, 'invalidValue');
  if (err instanceof InvalidQueryError) return new ScimError(400, err.message, err.kind === 'filter' ? 'invalidFilter' : 'invalidValue');
  return null;
}
