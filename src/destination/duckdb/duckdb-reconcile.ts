import type { DuckDBConnection } from '@duckdb/node-api';
import type { PackageTable } from '../../package/load-package.js';
import type { KeyDiff, KeyDiffRequest, MergeCountRequest } from '../destination.js';
import type { DuckDBFile } from './duckdb-connection.js';
import { DataError, messageOf } from '../../errors.js';
import { describeDuckdbFailure } from '../../normalize/duckdb-errors.js';
import { keyDiffLayout } from '../key-diff-layout.js';
import { quoteIdent, quoteLiteral } from '../../sql/quote.js';
import { readCsvSql } from '../../normalize/csv-read.js';
import { childTableName, keyJoin, type DatasetRef } from './duckdb-sql.js';

/**
 * Key reconciliation on DuckDB (see pipeline/reconcile.ts). Runs on its own connection, which sees the committed
 * tables only, so it can work while the run's load transaction fills other tables on the main connection.
 * The source's keys are read as text and cast to the destination's declared types (a key that does not cast stops the
 * reconciliation: nothing would match it, and its row would be deleted); the cursor is compared the same way (a value
 * that does not cast, such as a BC date kept as text, counts as different and is simply re-read). Keys inside the
 * incremental window (cursor ≥ its lower bound, or NULL) are left out of the refetch: the batch already holds them.
 */
export async function diffKeys(connection: DuckDBConnection, ref: DatasetRef, request: KeyDiffRequest): Promise<KeyDiff> {
  const target = ref.table(request.table);
  const { keys, cursor, csvColumns, cursorText, typeOf } = keyDiffLayout(request, await columnTypes(connection, ref, request.table));
  const csv = readCsvSql(request.keysFile, csvColumns.map((name) => ({ name, csvType: 'VARCHAR' })));
  const typed = [
    ...keys.map((k, i) => `k${i} AS s${i}, TRY_CAST(k${i} AS ${typeOf(k)}) AS v${i}`),
    `${cursorText} AS sc, TRY_CAST(${cursorText} AS ${typeOf(cursor)}) AS vc`,
  ];
  const stage = '"_ingesta_keys"';
  const match = (left: string) => keys.map((k, i) => `${left}.${quoteIdent(k)} = ${stage}.v${i}`).join(' AND ');
  try {
    await connection.run(`CREATE OR REPLACE TEMP TABLE ${stage} AS SELECT ${typed.join(', ')} FROM ${csv}`);
    const [bad] = (
      await connection.runAndReadAll(
        `SELECT ${keys.map((_, i) => `s${i}`).join(` || ', ' || `)} FROM ${stage} WHERE ${keys.map((_, i) => `(s${i} IS NOT NULL AND v${i} IS NULL)`).join(' OR ')} LIMIT 1`,
      )
    ).getRows();
    if (bad) {
      throw new DataError(
        `Reconciling the keys of ${request.table}: the source key (${String(bad[0])}) does not convert to the destination's key type, so the keys cannot ` +
          `be compared. Nothing was written. Run with --no-reconcile, or rebuild the table with --full-refresh ${request.table}.`,
      );
    }
    // rows the incremental read already took: cursor NULL or at/after its lower bound (as PostgreSQL compared them)
    const bound = request.lowerBound === null ? undefined : await castedBound(connection, request.lowerBound, typeOf(cursor));
    const inWindow = request.lowerBound === null ? 'false' : `(${stage}.sc IS NULL${bound ? ` OR ${stage}.vc >= ${bound}` : ''})`;
    const missing = await connection.runAndReadAll(
      `SELECT ${keys.map((_, i) => `${stage}.s${i}`).join(', ')} FROM ${stage}
       LEFT JOIN (SELECT ${keys.map((k) => quoteIdent(k)).join(', ')}, ${quoteIdent(cursor)} AS _cursor, true AS _present FROM ${target}) t ON ${match('t')}
       WHERE NOT ${inWindow} AND (t._present IS NULL OR ${stage}.vc IS DISTINCT FROM t._cursor)`,
    );
    const refetch = missing.getRows().map((row) => row.map((v) => String(v)));
    const deleted = await connection.runAndReadAll(
      `COPY (SELECT ${keys.map((k) => `t.${quoteIdent(k)}`).join(', ')} FROM ${target} t WHERE NOT EXISTS (SELECT 1 FROM ${stage} WHERE ${match('t')}))
       TO ${quoteLiteral(request.deletesFile)} (FORMAT csv, HEADER false)`,
    );
    return { refetch, deleted: Number(deleted.getRows()[0]?.[0] ?? 0) };
  } catch (cause) {
    if (cause instanceof DataError) throw cause;
    throw new DataError(`Reconciling the keys of ${request.table} failed: ${describeDuckdbFailure(messageOf(cause))}. Nothing was written.`, { cause });
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${stage}`).catch(() => undefined);
  }
}

/** The incremental lower bound as a DuckDB literal of the cursor's type, or undefined when it does not convert. */
async function castedBound(connection: DuckDBConnection, bound: string, type: string): Promise<string | undefined> {
  const [row] = (await connection.runAndReadAll(`SELECT TRY_CAST(${quoteLiteral(bound)} AS ${type}) IS NOT NULL`)).getRows();
  return row?.[0] === true ? `CAST(${quoteLiteral(bound)} AS ${type})` : undefined;
}

/**
 * Rows `request.table` would hold after merging the batch: its committed rows plus the batch's distinct keys it
 * lacks. The batch is read as text (keys cast to the table's types); undefined when it cannot be read or compared.
 */
export async function countAfterMerge(connection: DuckDBConnection, ref: DatasetRef, request: MergeCountRequest): Promise<number | undefined> {
  const target = ref.table(request.table);
  try {
    const [current] = (await connection.runAndReadAll(`SELECT count(*)::BIGINT FROM ${target}`)).getRows();
    const stored = Number(current?.[0] ?? 0);
    if (request.batchRows === 0) return stored;
    const types = await columnTypes(connection, ref, request.table);
    const keys = request.keyColumns.map((c) => c.name);
    // every column as text, by position: nothing is parsed but the keys (a record over the default line limit fails
    // here, and the caller reconciles rather than guess)
    const csv = readCsvSql(request.batchFile, request.columns.map((_, i) => ({ name: `c${i}`, csvType: 'VARCHAR' })));
    const position = (k: string) => request.columns.findIndex((c) => c.name === k);
    const batchKeys = keys.map((k, i) => `TRY_CAST(c${position(k)} AS ${types.get(k)}) AS v${i}`).join(', ');
    const match = keys.map((k, i) => `t.${quoteIdent(k)} = b.v${i}`).join(' AND ');
    const [added] = (
      await connection.runAndReadAll(`SELECT count(*)::BIGINT FROM (SELECT DISTINCT ${batchKeys} FROM ${csv}) b WHERE NOT EXISTS (SELECT 1 FROM ${target} t WHERE ${match})`)
    ).getRows();
    return stored + Number(added?.[0] ?? 0);
  } catch {
    return undefined;
  }
}

/**
 * Column name → type of a committed table, looked up as DuckDB matches identifiers: without regard to case. A key or
 * cursor column renamed in the source only by case (content_id → Content_ID) is the stored column under its old
 * spelling until this run's load renames it; the comparison (on committed data) finds it by the new one.
 */
class ColumnTypes extends Map<string, string> {
  override get(name: string): string | undefined {
    return super.get(name.toLowerCase());
  }
}

async function columnTypes(connection: DuckDBConnection, ref: DatasetRef, table: string): Promise<ColumnTypes> {
  const reader = await connection.runAndReadAll(
    'SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = $1 AND schema_name = $2 AND table_name = $3',
    [ref.database, ref.dataset, table],
  );
  return new ColumnTypes(reader.getRowObjectsJS().map((r) => [String(r.column_name).toLowerCase(), String(r.data_type)]));
}

/** Deletes from `table` the keys listed in a deletes file written by diffKeys (same key columns, same types). */
export function deleteKeysSql(ref: DatasetRef, table: string, keyColumns: readonly { name: string; type: string }[], deletesFile: string): string {
  const target = ref.table(table);
  const csv = readCsvSql(deletesFile, keyColumns.map((k) => ({ name: k.name, csvType: k.type })));
  const keys = keyColumns.map((k) => k.name);
  return `DELETE FROM ${target} USING (SELECT * FROM ${csv}) AS "_ingesta_deleted" WHERE ${keyJoin(target, '"_ingesta_deleted"', keys)}`;
}

/** Removes the keys the source no longer has (found by key reconciliation) from the table and its child tables. */
export async function deleteReconciled(db: DuckDBFile, table: PackageTable, deletesFile: string): Promise<void> {
  const types = await db.describeTable(table.name);
  const keys = table.primaryKey.map((name) => ({ name, type: types.get(name)! }));
  for (const name of [table.name, ...table.unnest.map((column) => childTableName(table.name, column))]) {
    if (name !== table.name && (await db.describeTable(name)).size === 0) continue;
    await db.run(deleteKeysSql(db.ref, name, keys, deletesFile));
  }
}
