/** Secrets never reach a log line or an audit record: values under secret-named keys are replaced, at any depth. */
const SECRET_KEYS = /^(password|token|secret|authorization|apiPassword|access_token|jwtSecret)$/i;
export function redact<T>(value: T): T {
  if (Array.isArray(value)) return value.map(redact) as T;
  if (typeof value === 'string') return redactUrl(value) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.test(k) ? '[redacted]' : redact(v);
    return out as T;
  }
  return value;
}

/**
 * Masks the password of every URL in a text, keeping the rest readable: "postgres://scim:s3cret@db/x" becomes
 * "postgres://scim:***@db/x", and "?password=s3cret" becomes "?password=***" (libpq reads a password there too).
 * The user info ends at the last "@" of the authority (RFC 3986 §3.2), so an unencoded "@" in the password is masked.
 */
export function redactUrl(text: string): string {
  if (!text.includes('://')) return text;
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)(\S*)/gi, (_m, scheme: string, rest: string) => scheme + maskUserInfo(rest))
    .replace(/([?&]password=)[^&#\s]*/gi, '$1***');
}

function maskUserInfo(rest: string): string {
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  let at = authority.lastIndexOf('@');
  // No "@" in the authority, but "user:pa" before the first "/" and an "@" later: a password with an unencoded
  // "/", "?" or "#". ("host:8080/users/jane@corp.io", a port and an e-mail in the path, is left alone.)
  if (at < 0 && /^[^[:]*:(?!\d*$)/.test(authority)) at = rest.lastIndexOf('@');
  if (at < 0) return rest;
  const colon = rest.indexOf(':');
  if (colon < 0 || colon > at) return rest; // a user name only: nothing secret
  return `${rest.slice(0, colon)}:***${rest.slice(at)}`;
}
