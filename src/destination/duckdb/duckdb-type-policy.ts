import { DataError } from '../../errors.js';
import type { PackageTable } from '../../package/load-package.js';
import type { ColumnMapping } from '../../normalize/column-mapping.js';
import { DIGITS, checkedDecimalColumn, decimalColumn, fittingScale, fracDigitsSql, intDigitsSql, measure, notDecimalSql, type NumericStats, type Query } from '../../normalize/numeric-measure.js';
import { asText } from '../../normalize/text-fallback.js';
import { quoteIdent } from '../../sql/quote.js';

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
  if (batch.fracDigits <= stored && batch.intDigits <= DIGITS - stored) {
    return { kind: 'keep', column: batch.checked ? checkedDecimalColumn(column, stored) : decimalColumn(column, stored, batch.intDigits) };
  }
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
