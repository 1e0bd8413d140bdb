import { ConfigError } from '../errors.js';

/**
 * A table as a user names it on the command line: `accounts`, `sales.orders`, `"MixedCase"`, `"my schema"."a.b"`.
 * Quoted parts are taken exactly; an unquoted part matches the exact name first, then its lower-case form
 * (PostgreSQL folds unquoted identifiers to lower case).
 */
export interface TableRef {
  readonly text: string;
  readonly schema: string | undefined;
  readonly schemaQuoted: boolean;
  readonly name: string;
  readonly nameQuoted: boolean;
}

function parts(text: string): { value: string; quoted: boolean }[] {
  const out: { value: string; quoted: boolean }[] = [];
  let i = 0;
  while (i <= text.length) {
    if (text[i] === '"') {
      let value = '';
      i += 1;
      for (;;) {
        if (i >= text.length) throw new ConfigError(`Table name ${text} has an unterminated quote.`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i += 1;
          break;
        }
        value += text[i];
        i += 1;
      }
      out.push({ value, quoted: true });
    } else {
      let value = '';
      while (i < text.length && text[i] !== '.') {
        if (text[i] === '"') throw new ConfigError(`Table name ${text}: a quote may only enclose a whole name part.`);
        value += text[i];
        i += 1;
      }
      out.push({ value: value.trim(), quoted: false });
    }
    if (i >= text.length) break;
    if (text[i] !== '.') throw new ConfigError(`Table name ${text}: expected "." after a quoted part.`);
    i += 1;
  }
  return out;
}

export function parseTableRef(text: string): TableRef {
  const p = parts(text.trim());
  if (p.length > 2 || p.some((x) => x.value === '')) {
    throw new ConfigError(`Table name ${text} is not valid: use table, schema.table, or quote parts with "…".`);
  }
  const [first, second] = p;
  return second
    ? { text, schema: first!.value, schemaQuoted: first!.quoted, name: second.value, nameQuoted: second.quoted }
    : { text, schema: undefined, schemaQuoted: false, name: first!.value, nameQuoted: first!.quoted };
}

/** `a,b "c,d"` style lists: splits on commas outside double quotes. */
export function splitTableList(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    let current = '';
    let quoted = false;
    for (const ch of value) {
      if (ch === '"') quoted = !quoted;
      if (ch === ',' && !quoted) {
        if (current.trim()) out.push(current.trim());
        current = '';
      } else current += ch;
    }
    if (current.trim()) out.push(current.trim());
  }
  return out;
}
