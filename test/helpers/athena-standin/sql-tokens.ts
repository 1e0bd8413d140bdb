/** A token of Trino SQL, with its 1-based line and column (as Athena's messages count them). */
export interface Token {
  readonly kind: 'string' | 'ident' | 'word' | 'number' | 'op' | 'punct';
  /** The text as written ('…' for strings, "…" for quoted identifiers). */
  readonly text: string;
  /** Unquoted value: a string's or identifier's content, a word lower-cased. */
  readonly value: string;
  readonly line: number;
  readonly column: number;
}

/** Splits Trino SQL into tokens (comments dropped). Enough for the type checks and rewrites of the stand-in. */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const push = (kind: Token['kind'], start: number, end: number, value: string) =>
    out.push({ kind, text: sql.slice(start, end), value, line, column: start - lineStart + 1 });
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === '\n') {
      i++;
      line++;
      lineStart = i;
    } else if (/\s/.test(c)) i++;
    else if (c === '-' && sql[i + 1] === '-') while (i < sql.length && sql[i] !== '\n') i++;
    else if (c === "'" || c === '"') {
      let j = i + 1;
      let value = '';
      for (;;) {
        if (j >= sql.length) break;
        if (sql[j] === c) {
          if (sql[j + 1] === c) {
            value += c;
            j += 2;
            continue;
          }
          break;
        }
        value += sql[j];
        j++;
      }
      push(c === "'" ? 'string' : 'ident', i, j + 1, value);
      i = j + 1;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i;
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j]!)) j++;
      push('word', i, j, sql.slice(i, j).toLowerCase());
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i;
      while (j < sql.length && /[0-9.eE]/.test(sql[j]!)) j++;
      push('number', i, j, sql.slice(i, j));
      i = j;
    } else if (/[<>=!|]/.test(c)) {
      let j = i + 1;
      if (/[=>|]/.test(sql[j] ?? '')) j++;
      push('op', i, j, sql.slice(i, j));
      i = j;
    } else {
      push('punct', i, i + 1, c);
      i++;
    }
  }
  return out;
}

/** Applies `rewrite` to the parts of `sql` outside string literals and quoted identifiers. */
export function outsideLiterals(sql: string, rewrite: (code: string) => string): string {
  let out = '';
  let code = '';
  let i = 0;
  while (i < sql.length) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      out += rewrite(code);
      code = '';
      let j = i + 1;
      while (j < sql.length && !(sql[j] === c && sql[j + 1] !== c)) j += sql[j] === c ? 2 : 1;
      out += sql.slice(i, j + 1);
      i = j + 1;
    } else {
      code += c;
      i++;
    }
  }
  return out + rewrite(code);
}
