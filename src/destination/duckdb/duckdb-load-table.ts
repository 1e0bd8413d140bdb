import path from 'node:path';
import { DataError, messageOf } from '../../errors.js';
import type { PackageTable } from '../../package/load-package.js';
import type { ColumnMapping } from '../../source/postgres/postgres-type-map.js';
import { quoteIdent } from '../../sql/quote.js';
import { AdjustmentNeeded, type LoadAdjustments } from './duckdb-adjustments.js';
import { applyBackfill } from './duckdb-backfill.js';
import type { DuckDBFile } from './duckdb-connection.js';
import { describeDuckdbFailure } from './duckdb-errors.js';
import { checkFrozen, DUCKDB_NAMING, evolveColumns, type PackageFile } from './duckdb-evolution.js';
import { diffColumns } from '../../schema/schema-evolution.js';
import { deleteReconciled } from './duckdb-reconcile.js';
import { castList, columnList, createTableSql, keyJoin, lineLimitFor, readCsvSql } from './duckdb-sql.js';
import { measureNumerics, refusedColumn, textNote, type NumericStats } from './duckdb-type-policy.js';

/** DuckDB read fewer rows from a package file than were extracted into it. */
class ShortRead extends Error {}

/**
 * Writes one package table into its dataset table inside the open load transaction: unconstrained numerics measured
 * on the CSV, the schema contract checked, then the table rebuilt (full load) or the batch merged by key (with the
 * reconciliation's deletes and the backfill). A failure that an adjustment can fix (an over-long record, a value
 * DuckDB refuses) throws AdjustmentNeeded; any other a DataError that quotes no value. `table` is the package table
 * with its text fallbacks applied (withTextFallbacks); `notes` collects what the load decided on its own.
 */
export async function writeTable(
  db: DuckDBFile,
  adjustments: LoadAdjustments,
  table: PackageTable,
  existing: ReadonlyMap<string, string>,
  file: string,
  notes: string[],
): Promise<void> {
  const target = db.ref.table(table.name);
  const longLines = adjustments.has({ kind: 'line-limit', table: table.name });
  // a record longer than DuckDB's default 2 MB line limit: the limit (and the read buffer) sized to the whole file
  const lineLimit = longLines ? lineLimitFor(table.bytes) : undefined;
  const from: PackageFile = { file, lineLimit };
  const csv = (columns: readonly ColumnMapping[]) => (table.rows > 0 ? readCsvSql(file, columns, lineLimit) : undefined);
  // reading such a record needs about four buffers of it: the memory limit is raised for this table only
  if (lineLimit) await db.raiseMemoryLimit(4 * (lineLimit + 2 ** 20));
  try {
    // unconstrained numerics are measured on the CSV itself (one pass over those columns only), then the table is
    // read once with each column's final type: no staging copy
    let numericStats = new Map<string, NumericStats>();
    let measured: ColumnMapping[];
    if (table.rows > 0) {
      const { columns, stats } = await measureNumerics((sql) => db.query(sql), table, csv(table.columns)!);
      numericStats = stats;
      // a full load notes a column that became text (a merge table's is noted by evolveColumns)
      for (const c of columns) {
        if (c.guard === 'unconstrained_numeric' && c.destinationType === 'VARCHAR' && stats.has(c.name) && table.replaceAll) notes.push(textNote(table.name, c, false));
      }
      measured = columns;
    } else {
      measured = [...table.columns];
    }
    if (existing.size > 0 && table.schemaContract === 'freeze') await checkFrozen(db, table, existing, measured, from);
    if (table.replaceAll) {
      // rebuilt from the full extract in the source's current shape; columns the source dropped stay (NULL) unless
      // this is a full refresh
      // (a column the source now spells with other capitals is no dropped column: DuckDB names ignore case)
      const stillMapped = new Set(diffColumns(existing, measured, DUCKDB_NAMING).flatMap((c) => (c.kind === 'renamed' ? [c.previousName] : [])));
      const kept = table.dropRemovedColumns ? [] : [...existing].filter(([name]) => !measured.some((c) => c.name === name) && !stillMapped.has(name));
      const source = csv(measured);
      if (source) {
        // CREATE … AS SELECT writes the new table in one pass (≈ 10 % faster than CREATE, then INSERT); every
        // column is cast to its declared type, so the table's types are exactly the mapped ones
        const select = [
          ...measured.map((c) => `CAST(${c.castSql} AS ${c.destinationType}) AS ${quoteIdent(c.name)}`),
          ...kept.map(([name, type]) => `CAST(NULL AS ${type}) AS ${quoteIdent(name)}`),
        ];
        await db.run(`CREATE OR REPLACE TABLE ${target} AS SELECT ${select.join(', ')} FROM ${source}`);
        await expectAllRowsRead(db, table, target);
      } else {
        const defs = [...measured.map((c) => `${quoteIdent(c.name)} ${c.destinationType}`), ...kept.map(([name, type]) => `${quoteIdent(name)} ${type}`)];
        await db.run(`CREATE OR REPLACE TABLE ${target} (${defs.join(', ')})`);
      }
    } else {
      const columns = existing.size === 0 ? measured : await evolveColumns(db, table, existing, measured, from, numericStats, notes);
      if (existing.size === 0) await db.run(createTableSql(db.ref, table.name, columns, false));
      const source = csv(columns);
      if (source) {
        await db.run(`CREATE OR REPLACE TEMP TABLE "_ingesta_merge" AS SELECT ${castList(columns)} FROM ${source}`);
        await expectAllRowsRead(db, table, '"_ingesta_merge"');
        await db.run(`DELETE FROM ${target} USING "_ingesta_merge" WHERE ${keyJoin(target, '"_ingesta_merge"', table.primaryKey)}`);
        await db.run(`INSERT INTO ${target} (${columnList(columns)}) SELECT ${columnList(columns)} FROM "_ingesta_merge"`);
      }
      if (table.reconcile?.deletesFile) await deleteReconciled(db, table, path.join(path.dirname(file), table.reconcile.deletesFile));
      if (table.backfill) await applyBackfill(db.conn, db.ref, table, columns, path.join(path.dirname(file), table.backfill.file));
    }
  } catch (cause) {
    throw classifyFailure(cause, table, longLines);
  } finally {
    // (inside a failed transaction this SET fails too: abort() restores the limit after its ROLLBACK)
    if (lineLimit) await db.restoreMemoryLimit();
  }
}

/** A failed table write as the error to throw: the adjustment that may fix it, or a DataError that quotes no value. */
function classifyFailure(cause: unknown, table: PackageTable, longLines: boolean): Error {
  if (cause instanceof DataError) return cause;
  if (cause instanceof ShortRead && longLines) {
    return new DataError(`${cause.message}. Nothing was committed; the previous data and state are intact.`, { cause });
  }
  // a record longer than DuckDB's default line limit (a very large text value) fails to parse, or is dropped
  // silently (DuckDB 1.5): the whole package is loaded again with a limit and a buffer that fit the file
  const tooLong = /unterminated quote/i.test(messageOf(cause)) && table.bytes > 2 ** 21;
  if (!longLines && (cause instanceof ShortRead || /maximum line size/i.test(messageOf(cause)) || tooLong)) {
    return new AdjustmentNeeded(
      { kind: 'line-limit', table: table.name },
      new DataError(`Table ${table.name}: a record is too long to load: ${describeDuckdbFailure(messageOf(cause))}`, { cause }),
    );
  }
  // a value DuckDB refuses (a BC date, a timestamp past its range, NaN in numeric(p,s)): the column becomes text
  const column = refusedColumn(messageOf(cause), table);
  if (column) {
    return new AdjustmentNeeded(
      { kind: 'text', table: table.name, column: column.name },
      new DataError(`Table ${table.name}, column ${column.name}: DuckDB cannot hold a value of it and the column could not fall back to text.`, { cause }),
    );
  }
  // DuckDB's message quotes the value (and the CSV record): only what failed and where is kept
  return new DataError(
    `Loading table ${table.name} into DuckDB failed: ${describeDuckdbFailure(messageOf(cause))}. ` +
      (/out of memory/i.test(messageOf(cause)) ? 'Raise INGESTA_DUCKDB_MEMORY_LIMIT. ' : '') +
      'Nothing was committed; the previous data and state are intact.',
    { cause },
  );
}

/** Every record of the package file must have become a row: DuckDB's CSV reader can drop an over-long last record. */
async function expectAllRowsRead(db: DuckDBFile, table: PackageTable, loaded: string): Promise<void> {
  const [row] = await db.query(`SELECT count(*)::BIGINT AS n FROM ${loaded}`);
  const n = Number(row?.n ?? 0);
  if (n !== table.rows) throw new ShortRead(`Table ${table.name}: DuckDB read ${n} of the ${table.rows} rows extracted from the source`);
}
