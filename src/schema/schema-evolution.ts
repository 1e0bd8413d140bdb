import type { ColumnMapping } from '../normalize/column-mapping.js';

/** How one destination column differs from what the source now maps to. */
export type ColumnChange =
  | { readonly kind: 'added'; readonly column: string; readonly to: string }
  | { readonly kind: 'widened'; readonly column: string; readonly from: string; readonly to: string }
  | { readonly kind: 'dropped'; readonly column: string; readonly from: string }
  | { readonly kind: 'incompatible'; readonly column: string; readonly from: string; readonly to: string }
  /** The same column (identifiers that ignore case) spelled with other capitals in the source: `column` is the new spelling. */
  | { readonly kind: 'renamed'; readonly column: string; readonly previousName: string };

/** How the destination compares column names: identifiers that ignore case make `title` and `Title` one column. */
export interface ColumnNaming {
  readonly caseSensitive: boolean;
}

/** DuckDB's spellings of a type reduced to one, so a declared type and a catalog type compare equal. */
export function normalizeType(type: string): string {
  return type
    .toUpperCase()
    .replace(/\s+/g, ' ')
    .replace('TIMESTAMP WITH TIME ZONE', 'TIMESTAMPTZ')
    .replace('TIME WITH TIME ZONE', 'TIMETZ')
    .replace(/^(REAL|FLOAT4)$/, 'FLOAT')
    .replace(/^FLOAT8$/, 'DOUBLE')
    .replace(/^(INT|INT4)$/, 'INTEGER')
    .replace(/^INT8$/, 'BIGINT')
    .replace(/^INT2$/, 'SMALLINT');
}

const INTEGER_DIGITS: Readonly<Record<string, number>> = { TINYINT: 3, SMALLINT: 5, INTEGER: 10, BIGINT: 19, HUGEINT: 39 };
const decimal = (t: string) => {
  const m = /^DECIMAL\((\d+),(\d+)\)$/.exec(t);
  return m ? { p: Number(m[1]), s: Number(m[2]) } : undefined;
};

/**
 * Whether every value of type `from` converts exactly to `to`, so the destination column can be altered in place:
 * a longer integer, FLOAT → DOUBLE, a decimal with at least as many integer and fraction digits, an integer into a
 * decimal or DOUBLE that holds it, DATE → TIMESTAMP, anything but BLOB into VARCHAR (its text).
 */
export function isWidening(fromType: string, toType: string): boolean {
  const from = normalizeType(fromType);
  const to = normalizeType(toType);
  if (from === to) return true;
  const fi = INTEGER_DIGITS[from];
  const ti = INTEGER_DIGITS[to];
  if (fi !== undefined && ti !== undefined) return ti >= fi;
  const fd = decimal(from);
  const td = decimal(to);
  if (fi !== undefined && td) return td.p - td.s >= fi;
  if (fi !== undefined && to === 'DOUBLE') return fi <= 10;
  if (fd && td) return td.s >= fd.s && td.p - td.s >= fd.p - fd.s;
  if (from === 'FLOAT' && to === 'DOUBLE') return true;
  if (from === 'DATE' && (to === 'TIMESTAMP' || to === 'TIMESTAMPTZ')) return to === 'TIMESTAMP';
  if (to === 'VARCHAR') return from !== 'BLOB' && !from.endsWith('[]');
  return false;
}

/**
 * Compares the destination table's columns (name → type, in order) with the columns the source maps to now, names
 * compared as the destination compares them (`naming`): where identifiers ignore case, a column the source now spells
 * with other capitals is the stored column, renamed (regression: `title` → `Title` was a column added beside the old
 * one, left all NULL — or a load refused — on DuckDB).
 * A column of unconstrained numeric (measured per load) counts as unchanged while it stays DECIMAL(38, s) or VARCHAR.
 */
export function diffColumns(existing: ReadonlyMap<string, string>, wanted: readonly ColumnMapping[], naming: ColumnNaming): ColumnChange[] {
  const changes: ColumnChange[] = [];
  const key = (name: string) => (naming.caseSensitive ? name : name.toLowerCase());
  const storedByKey = new Map([...existing.keys()].map((name) => [key(name), name]));
  const matched = new Set<string>();
  for (const c of wanted) {
    const stored = existing.has(c.name) ? c.name : storedByKey.get(key(c.name));
    if (stored === undefined) {
      changes.push({ kind: 'added', column: c.name, to: c.destinationType });
      continue;
    }
    matched.add(stored);
    if (stored !== c.name) changes.push({ kind: 'renamed', column: c.name, previousName: stored });
    const current = existing.get(stored)!;
    // unconstrained numeric is measured per load: DECIMAL(38, s) of any scale, or VARCHAR once a value needed the
    // lossless text form; the loader widens within those
    if (c.guard === 'unconstrained_numeric' && /^DECIMAL\(38,\d+\)$/.test(normalizeType(c.destinationType)) && /^(DECIMAL\(38,\d+\)|VARCHAR)$/.test(normalizeType(current))) continue;
    // a date/timestamp or numeric(p,s) column that already fell back to exact text stays text
    if (c.guard === 'text_fallback' && normalizeType(current) === 'VARCHAR') continue;
    if (normalizeType(current) === normalizeType(c.destinationType)) continue;
    changes.push(
      isWidening(current, c.destinationType)
        ? { kind: 'widened', column: c.name, from: current, to: c.destinationType }
        : { kind: 'incompatible', column: c.name, from: current, to: c.destinationType },
    );
  }
  for (const [name, type] of existing) if (!matched.has(name)) changes.push({ kind: 'dropped', column: name, from: type });
  return changes;
}

/** One change in words; `prefix: false` leaves out the leading "<table>: " (a warning already names its table). */
export function describeChange(table: string, change: ColumnChange, prefix = true): string {
  const text = describeChangeText(table, change);
  return prefix ? `${table}: ${text}` : text;
}

function describeChangeText(table: string, change: ColumnChange): string {
  switch (change.kind) {
    case 'added':
      return `column ${change.column} (${change.to}) is new in the source; added`;
    case 'widened':
      return `column ${change.column} widens from ${change.from} to ${change.to}`;
    case 'dropped':
      return `column ${change.column} (${change.from}) no longer exists in the source; kept in the destination, NULL in new rows (--full-refresh ${table} removes it)`;
    case 'incompatible':
      return `column ${change.column} changes from ${change.from} to ${change.to}, which cannot hold every old value`;
    case 'renamed':
      return `column ${change.previousName} is spelled ${change.column} in the source now (the same column to the destination); renamed`;
  }
}
