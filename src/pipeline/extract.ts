import path from 'node:path';
import type pg from 'pg';
import { listSourceTables } from '../source/postgres/source-tables.js';
import type { Catalog, CatalogTable } from '../catalog/catalog.js';
import { parseDuration } from '../config/config.js';
import type { KeyReconciler, TableState } from '../destination/destination.js';
import { ConfigError, IngestError, SourceError } from '../errors.js';
import { packageIoError, syncFile, type PackageTable } from '../package/load-package.js';
import { copyToFile } from '../source/postgres/copy-extractor.js';
import { sourceQueryError } from '../source/postgres/postgres-connection.js';
import { introspectTable, type SourceTable } from '../source/postgres/postgres-introspector.js';
import { comparisonType, type ColumnMapping } from '../source/postgres/postgres-type-map.js';
import { extractSelect, incrementalWhere, lowerBound, nextCursor } from '../source/postgres/table-query.js';
import { countRows } from '../source/postgres/source-profile.js';
import type { EventListener } from './events.js';
import type { TableRead } from './table-read.js';
import { crashPoint } from '../faults/crash-points.js';
import { needsReconciliation, reconcileRead, unreadableKeys, unreadableKeysError } from './reconcile.js';
import type { ReconcileMode } from './resolve-tables.js';
import { backfillRead } from './backfill.js';
import { estimateRead, extractProgress } from './progress.js';

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
}

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** Reads every table's definition inside the snapshot; a missing table or column is an error before any COPY. */
export async function introspectAll(client: pg.Client, tables: readonly CatalogTable[]): Promise<Map<string, SourceTable>> {
  const found = new Map<string, SourceTable>();
  for (const t of tables) {
    const source = await introspectTable(client, t.schema, t.name).catch((cause: unknown) => {
      throw sourceQueryError(`Reading the definition of table ${t.schema}.${t.name}`, cause);
    });
    if (!source) {
      // name where it was looked for: without DATABASE_URL, libpq's defaults pick the OS user and a database of its name
      const where = await listSourceTables(client).then(
        (l) => `database ${l.database} as user ${l.user}${l.tables.length === 0 ? ', which sees no table at all there' : ''}`,
        () => 'database',
      );
      throw new SourceError(
        `Table ${t.schema}.${t.name} does not exist in the source ${where} (or this user cannot see it): it was dropped or renamed, the connection points at another database, or the catalog or --tables names it wrongly. ` +
          'Nothing was loaded; the destination is unchanged (its last load of the table is kept). Recreate the table, or leave it out with --tables.',
      );
    }
    const names = new Set(source.columns.map((c) => c.name));
    const required = [...t.primaryKey, ...(t.incremental ? [t.incremental.cursorColumn] : []), ...t.unnest];
    const missing = required.filter((c) => !names.has(c));
    if (missing.length > 0) {
      throw new ConfigError(`Table ${t.name}: column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} named in the catalog (primary key / cursor / unnest) do not exist in the source.`);
    }
    found.set(t.name, source);
  }
  return found;
}

/**
 * Keys and foreign keys declared in the source vs the catalog: disagreements are warnings, not fatal. A source foreign
 * key the catalog does not declare is no disagreement (the quality gate checks it too): one note lists them, shown
 * with --verbose and in JSON (regression: 18–22 warnings on every DataVision run, even with -q).
 */
export function reportSourceComparison(emit: EventListener, catalog: Catalog, tables: readonly CatalogTable[], sources: ReadonlyMap<string, SourceTable>): void {
  const { warnings, undeclared } = compareWithSource(catalog, tables, sources);
  for (const message of warnings) emit({ type: 'warning', message });
  if (undeclared.length > 0) {
    emit({ type: 'note', message: `the quality gate also checks ${undeclared.length} foreign key${undeclared.length === 1 ? '' : 's'} declared in the source but not in the catalog: ${undeclared.join('; ')}` });
  }
}

/** See reportSourceComparison: warnings, and the source's foreign keys that the catalog does not declare. */
export function compareWithSource(catalog: Catalog, tables: readonly CatalogTable[], sources: ReadonlyMap<string, SourceTable>): { warnings: string[]; undeclared: string[] } {
  const warnings: string[] = [];
  const undeclared: string[] = [];
  const selected = new Set(tables.map((t) => t.name));
  for (const t of tables) {
    const s = sources.get(t.name)!;
    // a table whose key is not declared takes the source's (or has none): nothing to compare
    if (t.primaryKey.length > 0 && s.primaryKey.length === 0) {
      warnings.push(`Table ${t.name}: the source declares no primary key; the catalog says (${t.primaryKey.join(', ')}).`);
    } else if (t.primaryKey.length > 0 && !same(s.primaryKey, t.primaryKey)) {
      warnings.push(`Table ${t.name}: the source primary key is (${s.primaryKey.join(', ')}) but the catalog says (${t.primaryKey.join(', ')}).`);
    }
    const declared = catalog.relationships.filter((r) => r.table === t.name && selected.has(r.references));
    for (const r of declared) {
      const match = s.foreignKeys.some((fk) => fk.referencedTable === r.references && same(fk.columns, r.columns) && same(fk.referencedColumns, r.referencedColumns));
      if (!match) warnings.push(`Table ${t.name}: the catalog relationship (${r.columns.join(', ')}) → ${r.references} is not a foreign key in the source.`);
    }
    for (const fk of s.foreignKeys) {
      if (!selected.has(fk.referencedTable)) continue;
      const match = declared.some((r) => r.references === fk.referencedTable && same(fk.columns, r.columns));
      if (!match) undeclared.push(`${t.name} (${fk.columns.join(', ')}) → ${fk.referencedTable}`);
    }
  }
  return { warnings, undeclared };
}

export type { TableRead } from './table-read.js';

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
      previous.cursorColumn === t.incremental.cursorColumn &&
      previous.cursorValue !== null;
    let cursor: PackageTable['cursor'];
    let where: string | undefined;
    try {
      if (t.incremental) {
        const column = source.columns.find((c) => c.name === t.incremental!.cursorColumn)!;
        const lag = t.incremental.lag !== undefined ? parseDuration(t.incremental.lag, `Catalog lag of ${t.name}`) : input.defaultLagSeconds;
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
        cursor = { column: column.name, columnType: cursorType, previous: prev, lowerBound: bound, next: next.value };
      }
    } catch (cause) {
      throw sourceQueryError(`Planning the read of ${t.schema}.${t.name}`, cause);
    }
    let reconcile: ReconcileMode | 'never' = (incremental && input.reconcile?.get(t.name)) || 'never';
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

/**
 * Extracts every planned read into the package folder with COPY, inside the caller's snapshot transaction, and
 * returns the package's table entries (rows, bytes, source row counts at the snapshot).
 */
export async function extractTables(
  client: pg.Client,
  reads: readonly TableRead[],
  packageDir: string,
  emit: EventListener,
  onExtracted?: (table: PackageTable) => void,
  countIncremental = false,
  reconciler?: KeyReconciler,
): Promise<PackageTable[]> {
  const result: PackageTable[] = [];
  for (const read of reads) {
    const t = read.entry;
    try {
      const estimatedRows = await estimateRead(client, read);
      emit({ type: 'extract_started', table: t.name, mode: read.mode, filter: read.where, estimatedRows });
      const started = performance.now();
      const file = path.join(packageDir, t.file);
      const copied = await copyToFile(client, read.select, file, extractProgress(emit, t.name, estimatedRows));
      await syncFile(file);
      // an incremental read is counted for the gate or the automatic reconciliation (a reconciliation's key scan counts)
      const counted = read.mode === 'full' || read.reconcile === 'always' || (!countIncremental && read.reconcile !== 'auto') ? null : await countRows(client, t.sourceSchema, t.sourceName);
      const sourceRowCount = read.mode === 'full' ? copied.rows : counted;
      emit({ type: 'extract_finished', table: t.name, rows: copied.rows, bytes: copied.bytes, ms: performance.now() - started });
      crashPoint('during-extract');
      let table: PackageTable = { ...t, rows: copied.rows, bytes: copied.bytes, sourceRowCount };
      if (reconciler && (await needsReconciliation(read, table, counted, file, reconciler, emit))) {
        table = await reconcileRead(client, read, table, packageDir, reconciler, emit);
      }
      if (read.backfill && read.backfill.length > 0) table = await backfillRead(client, table, read.backfill, packageDir, emit);
      result.push(table);
      onExtracted?.(table);
    } catch (cause) {
      if (cause instanceof IngestError) throw cause;
      const io = packageIoError(cause, packageDir, `Writing table ${t.sourceSchema}.${t.sourceName} into the load package`);
      if (io) throw io;
      throw sourceQueryError(`Extracting table ${t.sourceSchema}.${t.sourceName}`, cause);
    }
  }
  return result;
}

/**
 * Shares the reads among the connections (each takes the next table in order) and returns the extracted tables in
 * the order of the reads. One connection: plain sequential extraction.
 * On the first failure no further table is started, the other readers' connections are closed (their in-flight COPY
 * ends on the server) and the promise rejects only once every reader has stopped: nothing is extracted, or handed to
 * the caller's onExtracted, after it rejects (the caller aborts its load transaction then).
 */
export async function extractInParallel(
  clients: readonly pg.Client[],
  reads: readonly TableRead[],
  extract: (client: pg.Client, reads: readonly TableRead[]) => Promise<PackageTable[]>,
): Promise<PackageTable[]> {
  if (clients.length <= 1) return extract(clients[0]!, reads);
  const queue = [...reads];
  const done: PackageTable[] = [];
  let failure: { error: unknown } | undefined;
  // every reader stops before this returns (allSettled); a rejection always records itself in `failure` first
  await Promise.allSettled(
    clients.map(async (client) => {
      try {
        for (let next = queue.shift(); next; next = queue.shift()) done.push(...(await extract(client, [next])));
      } catch (error) {
        if (failure) return; // a consequence of the first failure (its connection was closed below)
        failure = { error };
        queue.length = 0;
        for (const other of clients) if (other !== client) other.end().catch(() => undefined);
        throw error;
      }
    }),
  );
  if (failure) throw failure.error;
  const order = new Map(reads.map((r, i) => [r.entry.name, i]));
  return done.sort((a, b) => order.get(a.name)! - order.get(b.name)!);
}
