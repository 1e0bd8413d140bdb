import type { ColumnMapping, MappedTable } from './column-mapping.js';
import { quoteIdent } from '../sql/quote.js';
import { checkedWideDecimalCast, wideDecimalCast } from './wide-decimal.js';
import type { ColumnAdjustment, ColumnAdjustments } from './adjustments.js';
import { asText } from './text-fallback.js';

/**
 * Unconstrained numerics (numeric without declared precision) are measured on the package file: each becomes the
 * DECIMAL(38, s) that holds every value exactly, or exact text (see destination/duckdb/duckdb-type-policy.ts).
 */

export type Query = (sql: string) => Promise<Record<string, unknown>[]>;

/** DuckDB's widest exact decimal has 38 digits; an unconstrained numeric gets at least 9 fraction digits. */
export const DIGITS = 38;
export const MIN_SCALE = 9;

/**
 * What a load measured of an unconstrained numeric column: largest integer and fraction digits; NaN/±Infinity seen.
 * `checked`: not measured, but every value is checked to be within these digits as the file is read (assumeNumerics).
 */
export interface NumericStats {
  readonly intDigits: number;
  readonly fracDigits: number;
  readonly special: boolean;
  readonly checked?: boolean;
}

export const intDigitsSql = (v: string) => `length(regexp_extract(${v}, '^-?0*([0-9]*)', 1))`;
export const fracDigitsSql = (v: string) => `length(rtrim(regexp_extract(${v}, '\\.([0-9]+)$', 1), '0'))`;
export const notDecimalSql = (v: string) => `NOT regexp_full_match(${v}, '-?[0-9]+(\\.[0-9]+)?')`;

/** One pass over `from` measuring `values` (SQL text expressions). */
export async function measure(query: Query, values: readonly string[], from: string): Promise<NumericStats[]> {
  if (values.length === 0) return [];
  const aggregates = values.map(
    (v, i) => `coalesce(max(${intDigitsSql(v)}), 0) AS i${i}, coalesce(max(${fracDigitsSql(v)}), 0) AS f${i}, bool_or(${notDecimalSql(v)}) AS s${i}`,
  );
  const [row = {}] = await query(`SELECT ${aggregates.join(', ')} FROM ${from}`);
  return values.map((_, i) => ({ intDigits: Number(row[`i${i}`] ?? 0), fracDigits: Number(row[`f${i}`] ?? 0), special: row[`s${i}`] === true }));
}

/** The scale of a DECIMAL(38, s) that holds every value measured exactly (at least `preferred` where possible), or undefined. */
export function fittingScale(stats: readonly NumericStats[], preferred: number): number | undefined {
  if (stats.some((s) => s.special)) return undefined;
  const lo = Math.max(0, ...stats.map((s) => s.fracDigits));
  const hi = DIGITS - Math.max(0, ...stats.map((s) => s.intDigits));
  return lo > hi ? undefined : Math.min(Math.max(preferred, lo), hi);
}

/**
 * An unconstrained numeric column declared as DECIMAL(38, scale). When every value has at most 18 significant digits
 * at that scale, the CSV reader parses it as DECIMAL(18, scale) — 64-bit, ~6× cheaper than its 128-bit DECIMAL(38)
 * parser — and it is widened exactly; otherwise it is read as text and, when measured to fit (intDigits + scale ≤ 38),
 * cast through a 128-bit integer (wide-decimal.ts: DuckDB's own text → DECIMAL(38) cast is ~100 × slower).
 */
export function decimalColumn(column: ColumnMapping, scale: number, intDigits: number): ColumnMapping {
  const type = `DECIMAL(38,${scale})`;
  if (intDigits + scale <= 18) return { ...column, destinationType: type, csvType: `DECIMAL(18,${scale})`, castSql: `CAST(${quoteIdent(column.name)} AS ${type})` };
  const castSql = intDigits + scale <= DIGITS ? wideDecimalCast(column.name, scale) : `CAST(${quoteIdent(column.name)} AS ${type})`;
  return { ...column, destinationType: type, csvType: 'VARCHAR', castSql };
}

/** An unconstrained numeric column assumed to fit DECIMAL(38, scale), read as text and checked value by value. */
export function checkedDecimalColumn(column: ColumnMapping, scale: number): ColumnMapping {
  return { ...column, destinationType: `DECIMAL(38,${scale})`, csvType: 'VARCHAR', castSql: checkedWideDecimalCast(column.name, scale) };
}

/**
 * The unconstrained numerics of a table read without measuring them first (one CSV parse instead of two): each is
 * assumed to fit the scale measuring would choose when it does — a merge table's stored scale, else MIN_SCALE — and
 * checked as it is read (checkedDecimalColumn); a value that does not fit stops the read and the table is measured
 * (the `measure` load adjustment), so the result is the measured one either way. Returns undefined, to measure at
 * once, when a full load's stored column says the assumption failed before (a scale above MIN_SCALE, or text).
 */
export function assumeNumerics(
  table: Pick<MappedTable, 'columns' | 'replaceAll'>,
  existing: ReadonlyMap<string, string>,
): { columns: ColumnMapping[]; adjustments: Map<string, ColumnAdjustment>; stats: Map<string, NumericStats> } | undefined {
  const adjustments = new Map<string, ColumnAdjustment>();
  const stats = new Map<string, NumericStats>();
  for (const c of table.columns) {
    if (c.guard !== 'unconstrained_numeric' || c.destinationType === 'VARCHAR') continue;
    const current = existing.get(c.name);
    const stored = current === undefined ? undefined : /^DECIMAL\(38,(\d+)\)$/.exec(current)?.[1];
    if (table.replaceAll && current !== undefined && (stored === undefined || Number(stored) > MIN_SCALE)) return undefined;
    const scale = !table.replaceAll && stored !== undefined ? Number(stored) : MIN_SCALE;
    adjustments.set(c.name, { kind: 'decimal', scale, intDigits: DIGITS - scale, checked: true });
    stats.set(c.name, { intDigits: DIGITS - scale, fracDigits: scale, special: false, checked: true });
  }
  return { columns: withAdjustments(table.columns, adjustments), adjustments, stats };
}

/**
 * Columns of `numeric` without declared precision, measured over `from` (their text, in one pass): each becomes
 * DECIMAL(38, s) with s = max(9, the largest scale present) when a DECIMAL holds every value exactly, else VARCHAR
 * with PostgreSQL's exact text.
 */
export async function measureNumerics(
  query: Query,
  table: Pick<MappedTable, 'columns'>,
  from: string,
): Promise<{ columns: ColumnMapping[]; adjustments: Map<string, ColumnAdjustment>; stats: Map<string, NumericStats> }> {
  const numerics = table.columns.filter((c) => c.guard === 'unconstrained_numeric' && c.destinationType !== 'VARCHAR');
  const measured = await measure(query, numerics.map((c) => quoteIdent(c.name)), from);
  const stats = new Map(numerics.map((c, i) => [c.name, measured[i]!]));
  const adjustments = new Map<string, ColumnAdjustment>();
  for (const [name, s] of stats) {
    const scale = fittingScale([s], MIN_SCALE);
    adjustments.set(name, scale === undefined ? { kind: 'text', why: 'measured' } : { kind: 'decimal', scale, intDigits: s.intDigits });
  }
  return { columns: withAdjustments(table.columns, adjustments), adjustments, stats };
}

/** Columns with their adjustments applied: exact text, or a measured DECIMAL(38, s). */
export function withAdjustments(columns: readonly ColumnMapping[], adjustments: ColumnAdjustments): ColumnMapping[] {
  return columns.map((c) => {
    const a = adjustments.get(c.name);
    if (!a) return c;
    if (a.kind === 'text') return asText(c);
    return a.checked ? checkedDecimalColumn(c, a.scale) : decimalColumn(c, a.scale, a.intDigits);
  });
}

