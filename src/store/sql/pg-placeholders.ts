/**
 * The stores write '?' placeholders (SQLite's); PostgreSQL numbers them: $1, $2… left to right. A '?' inside a
 * string literal ('…', E'…' with backslash escapes, $tag$…$tag$), a quoted identifier ("…") or a comment (-- to
 * the end of the line, /* … *\/ which nest in PostgreSQL) is text and stays as it is (PostgreSQL docs §4.1.2, §4.1.5).
 * A consequence: the jsonb operators ? ?| ?& cannot be written through the driver; jsonb_exists() and
 * jsonb_exists_any() say the same.
 */
export function numberPlaceholders(sql: string): { text: string; count: number } {
  let out = '';
  let count = 0;
  let i = 0;
  let from = 0; // start of the stretch not yet copied to out
  const n = sql.length;
  while (i < n) {
    const c = sql[i];
    if (c === '?') {
      out += sql.slice(from, i) + '$' + ++count;
      from = ++i;
    } else if (c === "'") {
      i = endOfQuoted(sql, i, "'", isEscapeString(sql, i));
    } else if (c === '"') {
      i = endOfQuoted(sql, i, '"', false);
    } else if (c === '-' && sql[i + 1] === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
    } else if (c === '/' && sql[i + 1] === '*') {
      i = endOfBlockComment(sql, i);
    } else if (c === '$' && !isIdentChar(sql[i - 1])) {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 64))?.[0];
      if (tag) {
        const close = sql.indexOf(tag, i + tag.length);
        i = close < 0 ? n : close + tag.length;
      } else i++; // $1 or a lone $
    } else i++;
  }
  return { text: out + sql.slice(from), count };
}

/** Index just past the closing quote; a doubled quote is one quote; with escapes, a backslash hides the next char. */
function endOfQuoted(sql: string, start: number, q: string, escapes: boolean): number {
  for (let i = start + 1; i < sql.length; i++) {
    if (escapes && sql[i] === '\\') i++;
    else if (sql[i] === q) {
      if (sql[i + 1] === q) i++;
      else return i + 1;
    }
  }
  return sql.length; // unterminated: PostgreSQL will say so
}

function endOfBlockComment(sql: string, start: number): number {
  let depth = 0;
  for (let i = start; i < sql.length - 1; i++) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i++;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i++;
      if (depth === 0) return i + 1;
    }
  }
  return sql.length;
}

/** E'…' (or e'…'): an escape string constant, where \' is a quote. The E must start a token. */
function isEscapeString(sql: string, quote: number): boolean {
  return (sql[quote - 1] === 'E' || sql[quote - 1] === 'e') && !isIdentChar(sql[quote - 2]);
}

function isIdentChar(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
}
