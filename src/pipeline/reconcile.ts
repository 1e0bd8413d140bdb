import path from 'node:path';
import type pg from 'pg';
import type { KeyReconciler } from '../destination/destination.js';
import { ConfigError } from '../errors.js';
import { syncFile, type PackageTable } from '../package/load-package.js';
import { copyToFile } from '../source/postgres/copy-extractor.js';
import { extractSelect } from '../source/postgres/table-query.js';
import { quoteIdent, quoteLiteral } from '../sql/quote.js';
import type { ColumnMapping } from '../normalize/column-mapping.js';
import type { EventListener } from './events.js';
import type { TableRead } from './table-read.js';
import { tablePhase, type Pulse } from './phase-progress.js';
import { estimateTableRows } from '../source/postgres/row-estimate.js';

/** Keys per refetch statement: keeps each COPY's text small (a few hundred kB at most). */
const REFETCH_BATCH = 5000;

/**
 * Key reconciliation, the safer mode of an incremental table (`--reconcile`, or `incremental.reconcile: true` in the
 * catalog). An incremental read only sees rows whose cursor is inside [last cursor − lag, …): a transaction that
 * commits later than the lag with an older cursor value is missed, and a hard delete is never seen. Inside the same
 * snapshot as the incremental read, this step:
 *   1. copies every key of the source table with its cursor value (`NNN.keys.csv`, a narrow full scan);
 *   2. asks the destination to compare them with what it holds (committed data): keys it lacks or holds with another
 *      cursor value are returned, keys the source no longer has are written to `NNN.deletes.csv`;
 *   3. reads the returned keys' rows (outside the incremental window, so no row is read twice) and appends them to
 *      the table's file, so they are merged with the batch;
 * and the load deletes the keys of `NNN.deletes.csv` in the same transaction as the merge. After a reconciling run
 * the table equals the source at the snapshot, hard deletes included.
 */
export async function reconcileRead(
  client: pg.Client,
  read: TableRead,
  table: PackageTable,
  packageDir: string,
  reconciler: KeyReconciler,
  pulse: Pulse,
): Promise<PackageTable> {
  const { emit } = pulse;
  const cursor = table.cursor!;
  const keyColumns = table.primaryKey.map((k) => table.columns.find((c) => c.name === k)!);
  const cursorColumn = table.columns.find((c) => c.sourceName === cursor.column)!;
  const compared = keyColumns.includes(cursorColumn) ? keyColumns : [...keyColumns, cursorColumn];
  const base = table.file.replace(/\.csv$/, '');
  const keysFile = `${base}.keys.csv`;
  const deletesFile = `${base}.deletes.csv`;
  // the key scan reads every row of the source table: its own phase, with the table's estimate and a heartbeat
  const estimatedRows = await estimateTableRows(client, table.sourceSchema, table.sourceName);
  const keys = await tablePhase(
    pulse, 'key_scan', table.name, estimatedRows,
    (onBytes) => copyToFile(client, extractSelect(table.sourceSchema, table.sourceName, compared, undefined), path.join(packageDir, keysFile), onBytes),
    (copied) => copied.rows,
  );
  await syncFile(path.join(packageDir, keysFile));
  // the comparison in the destination and the re-read of the rows it returns: a phase too (rows: those re-read so far)
  const { diff, rows, bytes } = await tablePhase(
    pulse, 'key_diff', table.name, null,
    async (onBytes) => {
      const diff = await reconciler.diffKeys({
        table: table.name,
        keyColumns,
        cursorColumn,
        keysFile: path.join(packageDir, keysFile),
        keyRows: keys.rows,
        lowerBound: cursor.lowerBound,
        deletesFile: path.join(packageDir, deletesFile),
      });
      let rows = table.rows;
      let bytes = table.bytes;
      for (let i = 0; i < diff.refetch.length; i += REFETCH_BATCH) {
        const batch = diff.refetch.slice(i, i + REFETCH_BATCH);
        const where = `${keyMatch(keyColumns, batch)}${read.where ? ` AND NOT ${read.where}` : ''}`;
        const copied = await copyToFile(client, extractSelect(table.sourceSchema, table.sourceName, table.columns, where), path.join(packageDir, table.file), onBytes, true);
        rows += copied.rows;
        bytes += copied.bytes;
      }
      return { diff, rows, bytes };
    },
    (r) => r.rows - table.rows,
  );
  if (diff.refetch.length > 0) await syncFile(path.join(packageDir, table.file));
  emit({ type: 'table_reconciled', table: table.name, sourceKeys: keys.rows, refetched: rows - table.rows, deleted: diff.deleted });
  // every key was read at the snapshot: the source's row count comes for free
  return { ...table, rows, bytes, sourceRowCount: keys.rows, reconcile: { deletesFile: diff.deleted > 0 ? deletesFile : undefined, deleted: diff.deleted, refetched: rows - table.rows } };
}

/**
 * Key columns whose extracted text PostgreSQL reads back as the same value (the refetch names keys by that text):
 * not those extracted through an expression (bytea as base64, intervals, …). Empty when every key column qualifies.
 */
export function unreadableKeys(columns: readonly ColumnMapping[], primaryKey: readonly string[]): ColumnMapping[] {
  return primaryKey
    .map((k) => columns.find((c) => c.name === k)!)
    .filter((c) => c.selectSql !== quoteIdent(c.sourceName) && c.guard !== 'text_fallback');
}

/** The planning-time refusal of --reconcile on such a table. */
export function unreadableKeysError(table: string, columns: readonly ColumnMapping[]): ConfigError {
  return new ConfigError(
    `Table ${table}: key reconciliation needs key columns whose text PostgreSQL can read back; ${columns.map((c) => `${c.sourceName} (${c.sourceType})`).join(', ')} cannot. ` +
      `Leave ${table} out of --reconcile, or reload it with --full-refresh ${table}.`,
  );
}

/**
 * Whether an incremental read is followed by key reconciliation: always when asked; in the automatic mode when the
 * source's row count at the snapshot differs from what the destination would hold after merging the batch (its rows
 * plus the batch's new keys): a hard delete or a row committed late makes them differ. Updates committed later than
 * the lag keep the counts equal: only `--reconcile` finds those.
 */
export async function needsReconciliation(
  read: TableRead,
  table: PackageTable,
  sourceRows: number | null,
  file: string,
  reconciler: KeyReconciler,
  emit: EventListener,
): Promise<boolean> {
  if (read.reconcile === 'never' || read.mode !== 'incremental') return false;
  if (read.reconcile === 'always') return true;
  const keyColumns = table.primaryKey.map((k) => table.columns.find((c) => c.name === k)!);
  const predicted = await reconciler.countAfterMerge({ table: table.name, keyColumns, columns: table.columns, batchFile: file, batchRows: table.rows });
  if (predicted === sourceRows) return false;
  emit({
    type: 'warning',
    table: table.name,
    message:
      `the source holds ${sourceRows} rows but the destination would hold ${predicted ?? 'an unknown number'} after this batch ` +
      '(rows deleted in the source, or committed later than the lag): reconciling its keys in this run',
  });
  return true;
}

/** `(k1, k2) IN ((v, v), …)` with each value a literal of the key column's source type (PostgreSQL's own text). */
function keyMatch(keyColumns: readonly { sourceName: string; sourceType: string }[], keys: readonly (readonly string[])[]): string {
  const columns = keyColumns.map((c) => quoteIdent(c.sourceName));
  const tuples = keys.map((key) => `(${key.map((v, i) => `${quoteLiteral(v)}::${keyColumns[i]!.sourceType}`).join(', ')})`);
  return `(${columns.join(', ')}) IN (${tuples.join(', ')})`;
}
