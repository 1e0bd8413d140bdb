import type { DuckDBConnection } from '@duckdb/node-api';
import { DataError } from '../../errors.js';
import type { PackageTable } from '../../package/load-package.js';
import type { ColumnMapping } from '../../normalize/column-mapping.js';
import { quoteIdent } from '../../sql/quote.js';
import { castList, readCsvSql } from '../../normalize/csv-read.js';
import { keyJoin, type DatasetRef } from './duckdb-sql.js';

/**
 * Merges a backfill file (pipeline/backfill.ts: key + columns new in the source) into the merge table's rows, inside
 * the load transaction, after the batch: `UPDATE … SET new = b.new FROM <file> b WHERE key = b.key`. `columns` are the
 * table's columns as this load declares them (after evolveColumns), so each value is read and cast exactly as the
 * batch's are. An unconstrained numeric whose backfilled values need more digits than the column now has is refused
 * (it would be rounded): exit 4 with the --full-refresh hint. Returns the rows updated.
 */
export async function applyBackfill(connection: DuckDBConnection, ref: DatasetRef, table: PackageTable, columns: readonly ColumnMapping[], file: string): Promise<number> {
  const backfill = table.backfill;
  if (!backfill || backfill.rows === 0) return 0;
  const pick = (name: string) => columns.find((c) => c.name === name)!;
  const keys = table.primaryKey.map(pick);
  const added = backfill.columns.map(pick);
  const csvColumns = [...keys, ...added];
  await refuseInexactNumerics(connection, table.name, added, file, csvColumns);
  const target = ref.table(table.name);
  const source = `(SELECT ${castList(csvColumns)} FROM ${readCsvSql(file, csvColumns)}) AS "_ingesta_backfill"`;
  const sets = added.map((c) => `${quoteIdent(c.name)} = "_ingesta_backfill".${quoteIdent(c.name)}`).join(', ');
  const reader = await connection.runAndReadAll(`UPDATE ${target} SET ${sets} FROM ${source} WHERE ${keyJoin(target, '"_ingesta_backfill"', table.primaryKey)}`);
  return Number(reader.getRows()[0]?.[0] ?? 0);
}

/** An unconstrained numeric's backfilled text must fit the column's DECIMAL(38,s) exactly (no rounding on the way). */
async function refuseInexactNumerics(connection: DuckDBConnection, table: string, added: readonly ColumnMapping[], file: string, csvColumns: readonly ColumnMapping[]): Promise<void> {
  for (const c of added) {
    const m = /^DECIMAL\(38,(\d+)\)$/.exec(c.destinationType);
    if (c.guard !== 'unconstrained_numeric' || !m) continue;
    const scale = Number(m[1]);
    const q = quoteIdent(c.name);
    const text = readCsvSql(file, csvColumns.map((x) => ({ name: x.name, csvType: 'VARCHAR' })));
    const reader = await connection.runAndReadAll(
      `SELECT count(*) FROM ${text} WHERE ${q} IS NOT NULL AND (NOT regexp_full_match(${q}, '-?[0-9]+(\\.[0-9]+)?') ` +
        `OR length(rtrim(regexp_extract(${q}, '\\.([0-9]+)$', 1), '0')) > ${scale} OR length(regexp_extract(${q}, '^-?0*([0-9]*)', 1)) > ${38 - scale})`,
    );
    if (Number(reader.getRows()[0]?.[0] ?? 0) > 0) {
      throw new DataError(
        `Table ${table}, column ${c.name} (numeric without precision, new in the source): the older rows' values need more digits than ${c.destinationType} ` +
          `holds, so they cannot be filled in exactly. Run with --full-refresh ${table}; nothing was written.`,
      );
    }
  }
}
