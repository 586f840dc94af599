/** Secrets never reach a log line or an audit record: values under secret-named keys are replaced, at any depth. */
const SECRET_KEYS = /^(password|token|secret|authorization|apiPassword|access_token|jwtSecret)$/i;
export function redact<T>(value: T): T {
  if (Array.isArray(value)) return value.map(redact) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.test(k) ? '[redacted]' : redact(v);
    return out as T;
  }
  return value;
}
