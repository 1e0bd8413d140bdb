import { DataError } from '../../errors.js';
import type { PackageTable } from '../../package/load-package.js';
import { OUT_OF_RANGE_MARKER, type ColumnMapping } from '../../source/postgres/postgres-type-map.js';
import { quoteIdent } from '../../sql/quote.js';
import type { LoadAdjustments } from './duckdb-adjustments.js';
import { failedColumn } from './duckdb-errors.js';
import { wideDecimalCast } from './wide-decimal.js';

/**
 * The numeric and temporal policy of the DuckDB destination (lossless rule):
 * - a column's type is fixed by its first load (unconstrained numerics: measured, DECIMAL(38, s));
 * - a value no type of the column can hold exactly (NaN, more than 38 digits, a BC date, a timestamp past DuckDB's
 *   year 294246, integer and fraction digits that together need more than 38) turns the column into VARCHAR with
 *   PostgreSQL's exact text, with a warning: a full load rebuilds it so, a merge table's column is changed in place;
 * - an unconstrained numeric of a merge table first changes its scale when that holds every stored and new value;
 * - where the column cannot change (schema_contract freeze; a merge table's numeric key column, whose stored text
 *   would no longer match the source's), the run stops before anything is written, naming table, column and the
 *   row's key, never the value.
 */

type Query = (sql: string) => Promise<Record<string, unknown>[]>;

/** DuckDB's widest exact decimal has 38 digits; an unconstrained numeric gets at least 9 fraction digits. */
const DIGITS = 38;
const MIN_SCALE = 9;
const TEMPORAL = new Set(['DATE', 'TIMESTAMP', 'TIMESTAMPTZ']);

/** A column loaded as its exact text (VARCHAR), as staged; a date/timestamp without the out-of-range marker. */
export function asText(column: ColumnMapping): ColumnMapping {
  const q = quoteIdent(column.name);
  const castSql = column.guard === 'text_fallback' && TEMPORAL.has(column.destinationType) ? `regexp_replace(${q}, '^${OUT_OF_RANGE_MARKER}', '')` : q;
  return { ...column, destinationType: 'VARCHAR', csvType: 'VARCHAR', castSql };
}

/**
 * Columns that hold a value DuckDB refused (found by a failed attempt: `adjustments`), and those a previous load
 * already turned into text (a merge table stays text), are loaded as exact text.
 */
export function withTextFallbacks(table: PackageTable, existing: ReadonlyMap<string, string>, adjustments: Pick<LoadAdjustments, 'has'>): PackageTable {
  const columns = table.columns.map((c) =>
    c.guard === 'text_fallback' && c.destinationType !== 'VARCHAR' && (adjustments.has({ kind: 'text', table: table.name, column: c.name }) || (!table.replaceAll && existing.get(c.name) === 'VARCHAR'))
      ? asText(c)
      : c,
  );
  return { ...table, columns };
}

/**
 * The column whose value DuckDB refused, when the refusal is one the text fallback is for: a date/timestamp sent with
 * the out-of-range marker, NaN in a numeric(p,s). Any other failed conversion is an error.
 */
export function refusedColumn(message: string, table: PackageTable): ColumnMapping | undefined {
  const name = failedColumn(message);
  const column = table.columns.find((c) => c.name === name && c.guard === 'text_fallback' && c.destinationType !== 'VARCHAR');
  if (!column) return undefined;
  if (TEMPORAL.has(column.destinationType)) return message.includes(OUT_OF_RANGE_MARKER) ? column : undefined;
  return /"NaN"/.test(message) ? column : undefined;
}

/** The warning of a column that became exact text. */
export function textNote(table: string, column: ColumnMapping, inPlace: boolean): string {
  const what = TEMPORAL.has(column.destinationType)
    ? 'a date or timestamp outside DuckDB\'s range (BC, or after the year 294246)'
    : 'a number no DuckDB DECIMAL holds exactly (NaN, ±Infinity, more than 38 digits, or integer and fraction digits that together need more)';
  return `${table}.${column.name} holds ${what}: the column is ${inPlace ? 'changed to' : 'loaded as'} VARCHAR with PostgreSQL's exact text`;
}

/** What a load measured of an unconstrained numeric column: largest integer and fraction digits; NaN/±Infinity seen. */
export interface NumericStats {
  readonly intDigits: number;
  readonly fracDigits: number;
  readonly special: boolean;
}

const intDigitsSql = (v: string) => `length(regexp_extract(${v}, '^-?0*([0-9]*)', 1))`;
const fracDigitsSql = (v: string) => `length(rtrim(regexp_extract(${v}, '\\.([0-9]+)$', 1), '0'))`;
const notDecimalSql = (v: string) => `NOT regexp_full_match(${v}, '-?[0-9]+(\\.[0-9]+)?')`;

/** One pass over `from` measuring `values` (SQL text expressions). */
async function measure(query: Query, values: readonly string[], from: string): Promise<NumericStats[]> {
  if (values.length === 0) return [];
  const aggregates = values.map(
    (v, i) => `coalesce(max(${intDigitsSql(v)}), 0) AS i${i}, coalesce(max(${fracDigitsSql(v)}), 0) AS f${i}, bool_or(${notDecimalSql(v)}) AS s${i}`,
  );
  const [row = {}] = await query(`SELECT ${aggregates.join(', ')} FROM ${from}`);
  return values.map((_, i) => ({ intDigits: Number(row[`i${i}`] ?? 0), fracDigits: Number(row[`f${i}`] ?? 0), special: row[`s${i}`] === true }));
}

/** The scale of a DECIMAL(38, s) that holds every value measured exactly (at least `preferred` where possible), or undefined. */
function fittingScale(stats: readonly NumericStats[], preferred: number): number | undefined {
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

/**
 * Columns of `numeric` without declared precision, measured over `from` (their text, in one pass): each becomes
 * DECIMAL(38, s) with s = max(9, the largest scale present) when a DECIMAL holds every value exactly, else VARCHAR
 * with PostgreSQL's exact text.
 */
export async function measureNumerics(query: Query, table: PackageTable, from: string): Promise<{ columns: ColumnMapping[]; stats: Map<string, NumericStats> }> {
  const numerics = table.columns.filter((c) => c.guard === 'unconstrained_numeric' && c.destinationType !== 'VARCHAR');
  const measured = await measure(query, numerics.map((c) => quoteIdent(c.name)), from);
  const stats = new Map(numerics.map((c, i) => [c.name, measured[i]!]));
  const columns = table.columns.map((c) => {
    const s = stats.get(c.name);
    if (!s) return c;
    const scale = fittingScale([s], MIN_SCALE);
    return scale === undefined ? asText(c) : decimalColumn(c, scale, s.intDigits);
  });
  return { columns, stats };
}

/** How a merge table's unconstrained numeric column takes a batch. */
export type NumericMerge =
  | { readonly kind: 'keep'; readonly column: ColumnMapping }
  | { readonly kind: 'rescale'; readonly column: ColumnMapping; readonly from: number; readonly to: number }
  | { readonly kind: 'text'; readonly column: ColumnMapping };

/**
 * A merge table's unconstrained numeric column (`current`: its stored type) and a batch (`batch`: its measure, if
 * measured): the stored scale when every new value fits it; else another scale that holds every stored and new value
 * exactly (the stored values are measured); else exact text.
 */
export async function mergeNumeric(query: Query, target: string, column: ColumnMapping, current: string, batch: NumericStats | undefined): Promise<NumericMerge> {
  if (current === 'VARCHAR') return { kind: 'keep', column: asText(column) };
  const stored = Number(/^DECIMAL\(38,(\d+)\)$/.exec(current)![1]);
  if (!batch) return { kind: 'keep', column: decimalColumn(column, stored, DIGITS) };
  if (batch.special) return { kind: 'text', column: asText(column) };
  if (batch.fracDigits <= stored && batch.intDigits <= DIGITS - stored) return { kind: 'keep', column: decimalColumn(column, stored, batch.intDigits) };
  const [old] = await measure(query, [`CAST(${quoteIdent(column.name)} AS VARCHAR)`], target);
  const scale = fittingScale([batch, old!], stored);
  if (scale === undefined) return { kind: 'text', column: asText(column) };
  return { kind: 'rescale', column: decimalColumn(column, scale, batch.intDigits), from: stored, to: scale };
}

/** Why a column cannot change its type in this load, if it cannot. */
export function cannotChange(table: PackageTable, column: ColumnMapping): 'freeze' | 'key' | undefined {
  if (table.schemaContract === 'freeze') return 'freeze';
  if (!table.replaceAll && column.guard === 'unconstrained_numeric' && table.primaryKey.includes(column.name)) return 'key';
  return undefined;
}

/**
 * The error of a value that fits the column's stored type `current` but the column cannot change: names the table,
 * the column and the key of the first such row of the batch (read from `allText`, the package file with every column
 * as text), never the value (nor the key when the column is part of it).
 */
export async function cannotChangeError(query: Query, allText: string | undefined, table: PackageTable, column: ColumnMapping, current: string, why: 'freeze' | 'key'): Promise<DataError> {
  const v = quoteIdent(column.name);
  const decimal = /^DECIMAL\(38,(\d+)\)$/.exec(current);
  const refused = decimal
    ? `${notDecimalSql(v)} OR ${intDigitsSql(v)} > ${DIGITS - Number(decimal[1])} OR ${fracDigitsSql(v)} > ${decimal[1]}`
    : `TRY_CAST(${v} AS ${current}) IS NULL`;
  // (when the column is part of the key, the key would show the value: the row is not named)
  let row = 'a row';
  if (allText && table.primaryKey.length > 0 && !table.primaryKey.includes(column.name)) {
    const keys = table.primaryKey.map(quoteIdent);
    const [hit] = await query(`SELECT ${keys.join(', ')} FROM ${allText} WHERE ${v} IS NOT NULL AND (${refused}) LIMIT 1`).catch(() => []);
    if (hit) row = `the row with key (${table.primaryKey.join(', ')}) = (${table.primaryKey.map((k) => String(hit[k])).join(', ')})`;
  }
  const reason =
    why === 'freeze'
      ? `the table has schema_contract freeze. Set schema_contract: evolve for ${table.name} to let the column become exact text (VARCHAR), or run with --full-refresh ${table.name} once it is evolve`
      : `${column.name} is part of the primary key of a merge table, so its type cannot change in place. Run with --full-refresh ${table.name} to rebuild the table with the column as exact text (VARCHAR)`;
  return new DataError(
    `Table ${table.name}, column ${column.name}: ${row} holds a value that ${current} cannot hold exactly (the value is not shown), and ${reason}. Nothing was written.`,
  );
}
