/**
 * The one SCIM filter parser (RFC 7644 §3.4.2.2), shared by list filters, PATCH value paths and attribute mapping
 * rules, so a filter means the same everywhere. Errors are FilterSyntaxError; the SCIM layer maps them to 400
 * invalidFilter (scim/filter.ts).
 */
import { parse, type Filter } from 'scim2-parse-filter';

export class FilterSyntaxError extends Error {
  constructor(readonly detail: string) {
    super(`invalid filter: ${detail}`);
    this.name = 'FilterSyntaxError';
  }
}

export const MAX_FILTER_LENGTH = 4096;
export const MAX_FILTER_DEPTH = 32;

const invalid = (detail: string) => new FilterSyntaxError(detail);

/** RFC 7644 §3.4.2.2 attrPath: [URI ":"] ATTRNAME *1subAttr. */
const ATTR_PATH = /^(?:urn:[\w.:-]*:)?[A-Za-z][\w-]*(?:\.[A-Za-z][\w-]*)?$/i;
/** Inside a value filter, sub-attribute names only. */
const SUB_ATTR = /^[A-Za-z][\w-]*$/;

/**
 * Parses a SCIM filter (RFC 7644 §3.4.2.2). Any malformed input throws FilterSyntaxError.
 * String literals are decoded as JSON strings (RFC 7159 §7), which scim2-parse-filter does only for \".
 * Attribute names are kept as written; the store resolves them case-insensitively.
 */
export function parseFilterText(text: string): Filter {
  if (typeof text !== 'string' || text.trim() === '') throw invalid('the filter is empty');
  if (text.length > MAX_FILTER_LENGTH) throw invalid(`the filter is longer than ${MAX_FILTER_LENGTH} characters`);
  const { masked, literals } = maskStrings(text);
  let ast: Filter;
  try {
    ast = parse(masked);
  } catch (e) {
    throw invalid(explain(e instanceof Error ? e.message : String(e)));
  }
  return restore(ast, literals, 1, false);
}

/**
 * Replaces each string literal by a numbered placeholder and decodes it with JSON.parse; also bounds
 * bracket nesting before the recursive parser sees it.
 */
function maskStrings(text: string): { masked: string; literals: string[] } {
  const literals: string[] = [];
  let masked = '';
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '(' || ch === '[') {
      if (++depth > MAX_FILTER_DEPTH) throw invalid(`nesting is deeper than ${MAX_FILTER_DEPTH} levels`);
    } else if (ch === ')' || ch === ']') depth--;
    if (ch !== '"') {
      masked += ch;
      continue;
    }
    let j = i + 1;
    while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
    if (j >= text.length) throw invalid(`unterminated string starting at position ${i + 1}`);
    const literal = text.slice(i, j + 1);
    try {
      literals.push(JSON.parse(literal) as string);
    } catch {
      throw invalid(`${literal} is not a valid JSON string (RFC 7159 §7 escapes only)`);
    }
    masked += `"${literals.length - 1}"`;
    i = j;
  }
  return { masked, literals };
}

/** Puts the decoded strings back, checks attribute paths and depth. */
function restore(f: Filter, literals: string[], depth: number, inValuePath: boolean): Filter {
  if (depth > MAX_FILTER_DEPTH) throw invalid(`nesting is deeper than ${MAX_FILTER_DEPTH} levels`);
  switch (f.op) {
    case 'and':
    case 'or':
      return { op: f.op, filters: f.filters.map((x) => restore(x, literals, depth + 1, inValuePath)) };
    case 'not':
      return { op: 'not', filter: restore(f.filter, literals, depth + 1, inValuePath) };
    case '[]':
      if (inValuePath) throw invalid(`value filters cannot be nested ("${f.attrPath}[...]" inside another "[...]")`);
      checkPath(f.attrPath, false);
      return { op: '[]', attrPath: f.attrPath, valFilter: restore(f.valFilter, literals, depth + 1, true) };
    case 'pr':
      checkPath(f.attrPath, inValuePath);
      return { op: 'pr', attrPath: f.attrPath };
    default: {
      checkPath(f.attrPath, inValuePath);
      const v = f.compValue;
      return { op: f.op, attrPath: f.attrPath, compValue: typeof v === 'string' ? literals[Number(v)] : v };
    }
  }
}

function checkPath(path: string, sub: boolean): void {
  if (!(sub ? SUB_ATTR : ATTR_PATH).test(path)) {
    throw invalid(sub ? `"${path}" is not a sub-attribute name` : `"${path}" is not a valid attribute path`);
  }
}

/** Turns scim2-parse-filter's terse messages into ones an IdP admin can act on. */
function explain(message: string): string {
  if (/is not json/.test(message)) {
    return 'expected a comparison value (a "quoted string", a number, true, false or null) after the operator';
  }
  if (/expected '\)'/.test(message)) return "missing ')'";
  if (/expected '\]'/.test(message)) return "missing ']' closing a value filter";
  if (/as valFilter operator/.test(message)) {
    const m = /Unexpected token (\S*) (\S*) as/.exec(message);
    return `unknown operator${m?.[2] ? ` "${m[2]}"` : ''} after "${m?.[1] ?? ''}" (expected eq, ne, co, sw, ew, gt, ge, lt, le or pr)`;
  }
  if (/^unexpected EOT/.test(message)) return 'unexpected text after a complete expression (missing "and"/"or"?)';
  if (/\(EOT\)/.test(message)) return 'the filter ends too early';
  const tok = /^unexpected token (.*)$/s.exec(message);
  if (tok) return `unexpected character at "${tok[1].slice(0, 20)}"`;
  return message;
}
