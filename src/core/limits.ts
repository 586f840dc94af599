/**
 * Fixed request limits of the SCIM API (documented in README.md, "Request limits"). Each keeps one request's work,
 * and so the event-loop stall it causes, bounded; a request beyond one gets 400 (RFC 7644 §3.12).
 */

/** Nesting depth of a request body (the body itself is depth 1). SQLite's JSON functions stop at 1,000. */
export const MAX_JSON_DEPTH = 64;

/**
 * Values in one array of a User body: a multi-valued attribute (emails, phoneNumbers, …, extension arrays) or
 * PATCH Operations; and the most a PATCH may grow a multi-valued attribute to. Group members are not limited by it.
 */
export const MAX_MULTI_VALUES = 1_000;

/** Member references in one Group request (POST, PUT, or all operations of a PATCH); a group may hold far more. */
export const MAX_MEMBERS_PER_REQUEST = 10_000;
