import { OUT_OF_RANGE_MARKER, type ColumnMapping, type MappedTable } from './column-mapping.js';
import { quoteIdent } from '../sql/quote.js';
import type { LoadAdjustments } from './adjustments.js';
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
 * Columns that hold a value DuckDB refused (found by a failed attempt: `adjustments`), and those a previous load
 * already turned into text (a merge table stays text), are loaded as exact text.
 */
export function withTextFallbacks<T extends MappedTable>(table: T, existing: ReadonlyMap<string, string>, adjustments: Pick<LoadAdjustments, 'has'>): T {
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
    ? 'a date or timestamp outside DuckDB\'s range (BC, or after the year 294246)'
    : 'a number no DuckDB DECIMAL holds exactly (NaN, ±Infinity, more than 38 digits, or integer and fraction digits that together need more)';
  return `${table}.${column.name} holds ${what}: the column is ${inPlace ? 'changed to' : 'loaded as'} VARCHAR with PostgreSQL's exact text`;
}

