/**
 * Attribute names that look like credentials. Under a schema we do not declare we cannot know what such a value
 * is, so it is never stored, returned or logged (README "Undeclared extension schemas").
 */
const SECRET_NAME = /(password|passwd|passphrase|secret|token|api[-_]?key|private[-_]?key|credential)|^(pwd|pin)$/i;

/** True for "password", "clientSecret", "apiToken", and for a URN-qualified name ending in one ("urn:…:User:password"). */
export const isSecretName = (key: string): boolean => SECRET_NAME.test(key.slice(key.lastIndexOf(':') + 1));
