/**
 * SCIM filters for the HTTP layer (list queries and PATCH value paths): the core parser, with its errors as 400
 * invalidFilter (RFC 7644 §3.4.2.2), and comparison values no store can hold refused as 400 invalidValue.
 */
import type { Filter } from 'scim2-parse-filter';
import { FilterSyntaxError, parseFilterText } from '../core/filter';
import { isUnstorable } from '../core/json';
import { ScimError, unstorableValue } from './errors';

export { MAX_FILTER_DEPTH, MAX_FILTER_LENGTH } from '../core/filter';

export function parseFilter(text: string): Filter {
  let f: Filter;
  try {
    f = parseFilterText(text);
  } catch (e) {
    if (e instanceof FilterSyntaxError) throw new ScimError(400, e.message, 'invalidFilter');
    throw e;
  }
  // A literal's JSON escapes (\u0000, \ud800) are decoded by the parser, so the text alone does not show them.
  const at = unstorableComparison(f);
  if (at !== undefined) throw unstorableValue(`the filter value compared with "${at}"`);
  return f;
}

/** The attribute path of a comparison whose value isUnstorable, or undefined (value filters: "emails.value"). */
function unstorableComparison(f: Filter, prefix = ''): string | undefined {
  switch (f.op) {
    case 'and':
    case 'or':
      for (const sub of f.filters) {
        const at = unstorableComparison(sub, prefix);
        if (at !== undefined) return at;
      }
      return undefined;
    case 'not':
      return unstorableComparison(f.filter, prefix);
    case '[]':
      return unstorableComparison(f.valFilter, `${prefix}${f.attrPath}.`);
    case 'pr':
      return undefined;
    default:
      return typeof f.compValue === 'string' && isUnstorable(f.compValue) ? prefix + f.attrPath : undefined;
  }
}
