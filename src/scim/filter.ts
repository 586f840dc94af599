/** SCIM filters for the HTTP layer: the core parser, with its errors as 400 invalidFilter (RFC 7644 §3.4.2.2). */
import type { Filter } from 'scim2-parse-filter';
import { FilterSyntaxError, parseFilterText } from '../core/filter';
import { ScimError } from './errors';

export { MAX_FILTER_DEPTH, MAX_FILTER_LENGTH } from '../core/filter';

export function parseFilter(text: string): Filter {
  try {
    return parseFilterText(text);
  } catch (e) {
    if (e instanceof FilterSyntaxError) throw new ScimError(400, e.message, 'invalidFilter');
    throw e;
  }
}
