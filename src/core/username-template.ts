
/**
 * Airflow usernames rendered from SCIM users, e.g. "{userName}" or "okta_{externalId}". The rendered name must be
 * what the deployment's SSO login computes (airflow-api.md §5), or a login creates a second, unrelated user.
 */
export const USERNAME_PLACEHOLDERS = ['userName', 'externalId', 'email', 'emailLocalPart', 'id'] as const;
export type UsernamePlaceholder = (typeof USERNAME_PLACEHOLDERS)[number];

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** Every problem with a template (empty list: valid). Run at config time so a typo fails startup, not a run. */
export function usernameTemplateProblems(template: string): string[] {
  const problems: string[] = [];
  const found: string[] = [];
  for (const m of template.matchAll(PLACEHOLDER)) {
    found.push(m[1]);
    if (!(USERNAME_PLACEHOLDERS as readonly string[]).includes(m[1])) {
      problems.push(`unknown placeholder {${m[1]}} in airflow.username "${template}" (known: ${USERNAME_PLACEHOLDERS.map((p) => `{${p}}`).join(' ')})`);
    }
  }
  if (/[{}]/.test(template.replace(PLACEHOLDER, ''))) problems.push(`unbalanced brace in airflow.username "${template}"`);
  if (found.length === 0) problems.push(`airflow.username "${template}" has no placeholder, so every user would get the same name`);
  return problems;
}

/** Throws one error listing every problem. */
export function validateUsernameTemplate(template: string): void {
  const problems = usernameTemplateProblems(template);
  if (problems.length > 0) throw new Error(problems.join('; '));
}

/** What the template reads of a SCIM user (a store UserRecord fits): kept here so core imports nothing. */
export interface TemplateUser {
  id: string;
  data: { userName: string; externalId?: string; emails?: unknown };
}
type UserData = TemplateUser['data'];
type UserRecord = TemplateUser;

interface ScimEmail {
  value?: unknown;
  type?: unknown;
  primary?: unknown;
}

/** The user's email: the primary one, else the work one, else the first (RFC 7643 §4.1.2). */
export function pickEmail(data: UserData): string | undefined {
  const emails = (Array.isArray(data.emails) ? (data.emails as ScimEmail[]) : []).filter(
    (e): e is ScimEmail & { value: string } => typeof e?.value === 'string' && e.value.trim() !== '',
  );
  const chosen = emails.find((e) => e.primary === true) ?? emails.find((e) => e.type === 'work') ?? emails[0];
  return chosen?.value.trim();
}

function placeholderValue(name: UsernamePlaceholder, user: UserRecord): string | undefined {
  const d = user.data;
  switch (name) {
    case 'userName':
      return d.userName;
    case 'externalId':
      return d.externalId;
    case 'id':
      return user.id;
    case 'email':
      return pickEmail(d);
    case 'emailLocalPart': {
      const email = pickEmail(d);
      return email?.includes('@') ? email.slice(0, email.lastIndexOf('@')) : undefined;
    }
  }
}

export type RenderedUsername = { ok: true; username: string } | { ok: false; reason: string };

/** Renders the template for one user; a missing value excludes the user with a reason. */
export function renderUsername(template: string, user: UserRecord): RenderedUsername {
  let missing: string | undefined;
  const username = template.replace(PLACEHOLDER, (_all, name: string) => {
    const value = placeholderValue(name as UsernamePlaceholder, user);
    if (value === undefined || value.trim() === '') {
      missing ??= name;
      return '';
    }
    return value.trim();
  });
  if (missing !== undefined) {
    return { ok: false, reason: `airflow.username "${template}" needs {${missing}}, which this user does not have` };
  }
  return { ok: true, username };
}
