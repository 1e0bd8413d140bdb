import { OUT_OF_RANGE_MARKER, type ColumnMapping, type MappedTable } from './column-mapping.js';
import { quoteIdent } from '../sql/quote.js';
import type { ColumnAdjustment, LoadAdjustments } from './adjustments.js';
import { failedColumn } from './duckdb-errors.js';

/**
 * The text fallbacks of the typing step: a value no type of its column holds exactly (NaN in numeric(p,s), a BC
 * date, a timestamp past DuckDB's year 294246) turns the column into VARCHAR with PostgreSQL's exact text (see the
 * lossless rule in destination/duckdb/duckdb-type-policy.ts).
 */

const TEMPORAL = new Set(['DATE', 'TIMESTAMP', 'TIMESTAMPTZ']);

/** A column loaded as its exact text (VARCHAR), as staged; a date/timestamp without the out-of-range marker. */
export function asText(column: ColumnMapping): ColumnMapping {
  const q = quoteIdent(column.name);
  const castSql = column.guard === 'text_fallback' && TEMPORAL.has(column.destinationType) ? `regexp_replace(${q}, '^${OUT_OF_RANGE_MARKER}', '')` : q;
  return { ...column, destinationType: 'VARCHAR', csvType: 'VARCHAR', castSql };
}

/**
 * The text fallbacks of a table's columns: those that hold a value DuckDB refused (found by a failed attempt:
 * `adjustments`), and those a previous load already turned into text (a merge table stays text).
 */
export function textFallbacks(table: MappedTable, existing: ReadonlyMap<string, string>, adjustments: Pick<LoadAdjustments, 'has'>): Map<string, ColumnAdjustment> {
  const fallbacks = new Map<string, ColumnAdjustment>();
  for (const c of table.columns) {
    if (c.guard !== 'text_fallback' || c.destinationType === 'VARCHAR') continue;
    if (adjustments.has({ kind: 'text', table: table.name, column: c.name })) fallbacks.set(c.name, { kind: 'text', why: 'refused' });
    else if (!table.replaceAll && existing.get(c.name) === 'VARCHAR') fallbacks.set(c.name, { kind: 'text', why: 'stored' });
  }
  return fallbacks;
}

/** The table with its text fallbacks (textFallbacks) applied: those columns loaded as exact text. */
export function withTextFallbacks<T extends MappedTable>(table: T, existing: ReadonlyMap<string, string>, adjustments: Pick<LoadAdjustments, 'has'>): T {
  const fallbacks = textFallbacks(table, existing, adjustments);
  return { ...table, columns: table.columns.map((c) => (fallbacks.has(c.name) ? asText(c) : c)) };
}

/**
 * The warnings of the columns DuckDB refused a value of (loaded as exact text after a failed attempt): `inPlace` when
 * a merge table's stored column changes to text. `table` as packaged (the note tells a date from a number by its type).
 */
export function refusedNotes(table: MappedTable, existing: ReadonlyMap<string, string>, adjustments: Pick<LoadAdjustments, 'has'>): string[] {
  return table.columns
    .filter((c) => adjustments.has({ kind: 'text', table: table.name, column: c.name }))
    .map((c) => textNote(table.name, c, !table.replaceAll && existing.get(c.name) !== 'VARCHAR'));
}

/**
 * The column whose value DuckDB refused, when the refusal is one the text fallback is for: a date/timestamp sent with
 * the out-of-range marker, NaN in a numeric(p,s). Any other failed conversion is an error.
 */
export function refusedColumn(message: string, table: Pick<MappedTable, 'columns'>): ColumnMapping | undefined {
  const name = failedColumn(message);
  const column = table.columns.find((c) => c.name === name && c.guard === 'text_fallback' && c.destinationType !== 'VARCHAR');
  if (!column) return undefined;
  if (TEMPORAL.has(column.destinationType)) return message.includes(OUT_OF_RANGE_MARKER) ? column : undefined;
  return /"NaN"/.test(message) ? column : undefined;
}

/** The warning of a column that became exact text. */
export function textNote(table: string, column: ColumnMapping, inPlace: boolean): string {
  const what = TEMPORAL.has(column.destinationType)
    ? 'a date or timestamp outside the range ingesta types exactly (BC, or after the year 294246)'
    : 'a number no DECIMAL holds exactly (NaN, ±Infinity, more than 38 digits, or integer and fraction digits that together need more)';
  return `${table}.${column.name} holds ${what}: the column is ${inPlace ? 'changed to' : 'loaded as'} VARCHAR with PostgreSQL's exact text`;
}

