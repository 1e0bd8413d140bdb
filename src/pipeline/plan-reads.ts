import type pg from 'pg';
import type { CatalogTable } from '../catalog/catalog.js';
import { parseDuration } from '../config/config.js';
import { MAX_LAG_SECONDS } from '../config/duration.js';
import type { TableState } from '../destination/destination.js';
import type { PackageTable } from '../package/load-package.js';
import { ConfigError, messageOf } from '../errors.js';
import { sourceQueryError } from '../source/postgres/postgres-connection.js';
import type { SourceTable } from '../source/postgres/source-table.js';
import type { ColumnMapping } from '../normalize/column-mapping.js';
import { comparisonType } from '../source/postgres/source-column.js';
import { extractSelect, incrementalWhere, isStuckCursor, lowerBound, nextCursor } from '../source/postgres/table-query.js';
import type { EventListener } from './events.js';
import type { TableRead } from './table-read.js';
import { unreadableKeys, unreadableKeysError } from './reconcile.js';
import type { ReconcileMode } from '../catalog/reconcile-mode.js';

/** What the extract stage needs to decide, per table, between a full and an incremental read. */
export interface ExtractPlanInput {
  readonly tables: readonly CatalogTable[];
  readonly state: ReadonlyMap<string, TableState>;
  /** Tables that already exist in the destination. */
  readonly existing: ReadonlySet<string>;
  readonly refresh: ReadonlySet<string>;
  /** Incremental tables whose keys may be reconciled with the destination in this run, and how (--reconcile). */
  readonly reconcile?: ReadonlyMap<string, ReconcileMode>;
  readonly defaultLagSeconds: number;
  /**
   * Whether the destination tells names apart by case (capabilities.caseSensitiveIdentifiers). When it does not, a
   * cursor column renamed in the source only by case is the stored cursor's column: the table stays incremental.
   */
  readonly caseSensitiveIdentifiers?: boolean;
}

/** Whether the stored cursor's column is the catalog's cursor column (the same name, or renamed only by case). */
function sameCursorColumn(stored: string, current: string, source: SourceTable, caseSensitive: boolean): boolean {
  if (stored === current) return true;
  return !caseSensitive && stored.toLowerCase() === current.toLowerCase() && !source.columns.some((c) => c.name === stored);
}

/**
 * Decides every table's read inside the caller's snapshot: incremental when the table is merged, has a stored cursor
 * and exists in the destination (and no full refresh was asked), else full; the window is [cursor − lag, …) and the
 * next cursor is max(cursor) at the snapshot. Nothing is read yet.
 */
export async function planReads(
  client: pg.Client,
  input: ExtractPlanInput,
  sources: ReadonlyMap<string, SourceTable>,
  columnsByTable: ReadonlyMap<string, readonly ColumnMapping[]>,
  emit: EventListener,
): Promise<TableRead[]> {
  const reads: TableRead[] = [];
  for (const [index, t] of input.tables.entries()) {
    const source = sources.get(t.name)!;
    const columns = columnsByTable.get(t.name)!;
    const destinationOf = (sourceName: string) => columns.find((c) => c.sourceName === sourceName)!.name;
    const previous = input.state.get(t.name);
    const incremental =
      t.writeDisposition === 'merge' &&
      t.incremental !== undefined &&
      !input.refresh.has(t.name) &&
      input.existing.has(t.name) &&
      previous !== undefined &&
      sameCursorColumn(previous.cursorColumn, t.incremental.cursorColumn, source, input.caseSensitiveIdentifiers ?? true) &&
      previous.cursorValue !== null &&
      !isStuckCursor(previous.cursorValue);
    if (previous?.cursorValue && isStuckCursor(previous.cursorValue) && t.incremental && !input.refresh.has(t.name)) {
      // stored by an earlier version, which took NaN or Infinity as the cursor: the reads since then missed changes
      emit({
        type: 'warning',
        table: t.name,
        message: `the stored cursor of ${t.name} is ${previous.cursorValue}, above every later change: the table is loaded in full to take the changes incremental reads missed.`,
      });
    }
    let cursor: PackageTable['cursor'];
    let where: string | undefined;
    try {
      if (t.incremental) {
        const column = source.columns.find((c) => c.name === t.incremental!.cursorColumn)!;
        const lag = t.incremental.lag !== undefined ? parseDuration(t.incremental.lag, `Catalog lag of ${t.name}`, MAX_LAG_SECONDS) : input.defaultLagSeconds;
        const prev = incremental ? previous!.cursorValue : null;
        // a domain's base type decides (a domain over timestamptz gets the lag window and the future-time cap)
        const cursorType = comparisonType(column);
        const bound = prev !== null ? await lowerBound(client, cursorType, prev, lag) : null;
        if (bound !== null) where = incrementalWhere(column.name, cursorType, bound);
        const next = await nextCursor(client, t.schema, t.name, column.name, cursorType);
        if (next.futureRows > 0) {
          emit({
            type: 'warning',
            table: t.name,
            message: `${next.futureRows} rows have ${column.name} later than the source's current time; the cursor stays at the snapshot time, so they are re-read on every run until then.`,
          });
        }
        if (next.nonFiniteRows) {
          emit({
            type: 'warning',
            table: t.name,
            message: `${next.nonFiniteRows} rows have ${column.name} NaN or Infinity, which cannot order changes; the cursor leaves them out, so they are re-read on every run.`,
          });
        }
        cursor = { column: column.name, columnType: cursorType, previous: prev, lowerBound: bound, next: next.value };
      }
    } catch (cause) {
      // the catalog's own mistakes (a lag that is not a duration) are configuration errors, not source failures
      if (cause instanceof ConfigError) throw cause;
      // max() undefined for the cursor's type (uuid, boolean, jsonb, …): the catalog's choice, not a source failure
      if (t.incremental && (cause as { code?: string }).code === '42883' && /\bmax\(/.test(messageOf(cause))) {
        const column = source.columns.find((c) => c.name === t.incremental!.cursorColumn);
        throw new ConfigError(
          `Table ${t.name}: the cursor column ${t.incremental.cursorColumn} is of type ${column ? comparisonType(column) : 'unknown'}, which PostgreSQL cannot take a maximum of, so it cannot order changes. ` +
            'Name a column that grows with every change (a timestamp or a number) as incremental.cursor_column in the catalog, or load the table in full (write_disposition: replace). Nothing was loaded; the destination is unchanged.',
          { cause },
        );
      }
      throw sourceQueryError(`Planning the read of ${t.schema}.${t.name}`, cause);
    }
    let reconcile: ReconcileMode = (incremental && input.reconcile?.get(t.name)) || 'never';
    const unreadable = reconcile === 'never' ? [] : unreadableKeys(columns, t.primaryKey.map(destinationOf));
    if (unreadable.length > 0) {
      // asked for: refused before anything is read; automatic: this table is simply not reconciled
      if (reconcile === 'always') throw unreadableKeysError(t.name, unreadable);
      reconcile = 'never';
    }
    reads.push({
      mode: incremental ? 'incremental' : 'full',
      reconcile,
      where,
      select: extractSelect(t.schema, t.name, columns, where),
      entry: {
        name: t.name,
        sourceSchema: t.schema,
        sourceName: t.name,
        unnest: t.unnest.map(destinationOf),
        writeDisposition: t.writeDisposition,
        replaceAll: !incremental,
        dropRemovedColumns: input.refresh.has(t.name),
        schemaContract: t.schemaContract,
        file: `${String(index).padStart(3, '0')}.csv`,
        columns,
        primaryKey: t.primaryKey.map(destinationOf),
        cursor,
      },
    });
  }
  return reads;
}
