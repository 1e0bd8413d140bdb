import path from 'node:path';
import type pg from 'pg';
import type { DestinationCapabilities } from '../destination/destination.js';
import { syncFile, type PackageTable } from '../package/load-package.js';
import { copyToFile } from '../source/postgres/copy-extractor.js';
import { extractSelect } from '../source/postgres/table-query.js';
import { quoteIdent } from '../sql/quote.js';
import type { EventListener } from './events.js';
import type { TableRead } from './table-read.js';
import { DEFAULT_PROGRESS_INTERVAL_MS, tablePhase } from './phase-progress.js';
import { estimateTableRows } from '../source/postgres/row-estimate.js';

/**
 * Column backfill of a merge table. A column added to the source with a DEFAULT (or filled by the migration that
 * added it) has a value in every existing row, but an incremental read only brings the rows changed since the last
 * cursor: the older destination rows would keep NULL. In the run that first sees the column, inside the same
 * snapshot, this reads the key and the new columns of every source row where one of them is not NULL (a narrow scan,
 * like the key reconciliation's) into `NNN.backfill.csv`; the destination merges them into its rows by key in the
 * load transaction.
 */
export async function backfillRead(
  client: pg.Client,
  table: PackageTable,
  added: readonly string[],
  packageDir: string,
  emit: EventListener,
  intervalMs = DEFAULT_PROGRESS_INTERVAL_MS,
): Promise<PackageTable> {
  const pulse = { emit, intervalMs };
  const keyColumns = table.primaryKey.map((k) => table.columns.find((c) => c.name === k)!);
  const newColumns = added.map((name) => table.columns.find((c) => c.name === name)!).filter((c) => !table.primaryKey.includes(c.name));
  if (newColumns.length === 0) return table;
  const file = `${table.file.replace(/\.csv$/, '')}.backfill.csv`;
  const where = newColumns.map((c) => `${quoteIdent(c.sourceName)} IS NOT NULL`).join(' OR ');
  // a narrow scan of the whole table: its own phase, with the table's estimate (an upper bound) and a heartbeat
  const estimatedRows = await estimateTableRows(client, table.sourceSchema, table.sourceName);
  const copied = await tablePhase(
    pulse, 'backfill', table.name, estimatedRows,
    (onBytes) => copyToFile(client, extractSelect(table.sourceSchema, table.sourceName, [...keyColumns, ...newColumns], where), path.join(packageDir, file), onBytes),
    (c) => c.rows,
  );
  await syncFile(path.join(packageDir, file));
  const columns = newColumns.map((c) => c.name);
  emit({ type: 'table_backfilled', table: table.name, columns, rows: copied.rows });
  return { ...table, backfill: { file, columns, rows: copied.rows } };
}

/**
 * Marks the incremental reads of tables that gained columns for a backfill; on a destination that cannot merge one
 * yet, says instead that the older rows keep NULL until a full refresh.
 */
export function planBackfills(reads: readonly TableRead[], added: ReadonlyMap<string, readonly string[]>, capabilities: DestinationCapabilities, emit: EventListener): TableRead[] {
  return reads.map((read) => {
    const columns = added.get(read.entry.name);
    if (read.mode !== 'incremental' || !columns || columns.length === 0 || read.entry.primaryKey.length === 0) return read;
    if (!capabilities.columnBackfill) {
      emit({
        type: 'warning',
        table: read.entry.name,
        message: `the older rows keep NULL in ${columns.join(', ')} (this destination does not backfill new columns yet): run --full-refresh ${read.entry.name} to fill them`,
      });
      return read;
    }
    return { ...read, backfill: columns };
  });
}
