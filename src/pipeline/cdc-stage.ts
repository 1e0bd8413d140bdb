import path from 'node:path';
import type pg from 'pg';
import type { CatalogTable } from '../catalog/catalog.js';
import type { RunConfig } from '../config/config.js';
import type { Destination, TableState } from '../destination/destination.js';
import { ConfigError } from '../errors.js';
import { crashPoint } from '../faults/crash-points.js';
import { syncFile, type PackageTable } from '../package/load-package.js';
import { CHANGE_META_COLUMNS } from '../package/change-file.js';
import { closeSource, connectSource, sourceQueryError } from '../source/postgres/postgres-connection.js';
import { countRows } from '../source/postgres/source-profile.js';
import { readChanges, type CountCorrection } from './cdc-changes.js';
import { advanceSlot, cdcSlotName, checkCdcSource, createSlot, dropSlot, ensurePublication, flushedPosition, importSnapshot, slotInfo, type NewSlot } from '../source/postgres/cdc/cdc-slot.js';
import { lsnValue } from '../source/postgres/cdc/pgoutput-decoder.js';
import { backfillRead } from './backfill.js';
import type { EventListener } from './events.js';
import type { TableRead } from './table-read.js';

/** The state column of a CDC table: its cursor is the slot's position (pg_lsn) the destination holds. */
export const cdcCursorColumn = (slot: string) => `cdc:${slot}`;

/** The run's tables read by change data capture: those the catalog marks, or all with --cdc. */
export function cdcTables(config: Pick<RunConfig, 'cdc'>, tables: readonly CatalogTable[]): CatalogTable[] {
  return tables.filter((t) => config.cdc === true || t.cdc === true);
}

/** What CDC needs of the source, before anything else runs (cdc-slot.ts: checkCdcSource). No CDC table: nothing. */
export async function checkCdc(client: pg.Client, config: Pick<RunConfig, 'cdc'>, tables: readonly CatalogTable[]): Promise<void> {
  const cdc = cdcTables(config, tables);
  if (cdc.length === 0) return;
  await checkCdcSource(client, cdc);
  await refuseReservedCdcColumns(client, cdc);
}

/**
 * The change file's own columns (`_seq`, `_op`, `_unchanged`, `_moved`: package/change-file.ts) and the names the
 * Athena apply adds (`_ingesta_…`) cannot also be columns of a CDC table: the apply's SQL would bind two columns of one
 * name (a first run loaded, every later one failed with exit 4 "Duplicate struct entry name"). Refused before any slot
 * exists, naming the table and column (exit 2). DuckDB and Athena compare names without case.
 */
export async function refuseReservedCdcColumns(client: pg.Client, tables: readonly CatalogTable[]): Promise<void> {
  const meta = CHANGE_META_COLUMNS.map((c) => c.name);
  const { rows } = await client
    .query<{ table_schema: string; table_name: string; column_name: string }>(
      `SELECT n.nspname AS table_schema, c.relname AS table_name, a.attname AS column_name
       FROM unnest($1::text[], $2::text[]) AS t(schema_name, rel_name)
       JOIN pg_namespace n ON n.nspname = t.schema_name
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.rel_name
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       WHERE lower(a.attname) = ANY($3::text[]) OR lower(a.attname) LIKE '\\_ingesta\\_%'
       ORDER BY 1, 2, a.attnum LIMIT 1`,
      [tables.map((t) => t.schema), tables.map((t) => t.name), meta],
    )
    .catch((cause: unknown) => {
      throw sourceQueryError('Checking the column names of the change data capture tables', cause);
    });
  const clash = rows[0];
  if (!clash) return;
  throw new ConfigError(
    `Table ${clash.table_schema}.${clash.table_name} has a column named ${clash.column_name}, a name change data capture keeps for its own bookkeeping ` +
      `(${meta.join(', ')}, _ingesta_…). Leave the table out of CDC (it can still load by cursor or in full), or rename the column in the source. Nothing was changed.`,
  );
}

/** One run's change data capture, from slot and publication to the slot's confirmation after the commit. */
export interface CdcStage {
  readonly slot: string;
  /** prepareReads' hook between LOCK and the snapshot's first query: a new slot's snapshot is joined here. */
  readonly afterLock: (client: pg.Client) => Promise<void>;
  /** The CDC tables read as changes (held to a merge table's schema rules); none when the slot is (re)created. */
  readonly changesOnly: ReadonlySet<string>;
  /** The reads left to COPY: CDC tables load in full from the slot's snapshot (first run) or leave them (changes). */
  adjustReads(reads: readonly TableRead[]): TableRead[];
  /** Later runs: the changes since the stored position into the package, inside the snapshot (for a backfill). */
  extract(client: pg.Client, packageDir: string, emit: EventListener, onExtracted: (t: PackageTable) => void): Promise<PackageTable[]>;
  /** After the destination committed: the slot is confirmed up to the committed position. A failure is a warning. */
  confirm(emit: EventListener): Promise<void>;
  close(): Promise<void>;
  /** SIGTERM: ends the replication connection (a slot creation waiting for running transactions fails at once). */
  interrupt(): void;
}

/**
 * Decides how this run captures changes: from the stored position (the slot exists, every CDC table holds the same
 * position, the slot has not been confirmed past it) or, otherwise, with a new slot and its exported snapshot: every
 * CDC table reloaded in full, never a silent skip. Called after the destination's leftover packages were handled and
 * before the snapshot; the WAL position read here (before the snapshot) bounds the changes of this run.
 */
export async function startCdc(
  client: pg.Client,
  config: RunConfig,
  tables: readonly CatalogTable[],
  refresh: ReadonlySet<string>,
  destination: Destination,
  identity: { readonly destination: string; readonly dataset: string },
  emit: EventListener,
): Promise<CdcStage | undefined> {
  const cdc = cdcTables(config, tables);
  if (cdc.length === 0) return undefined;
  refuseUnsupported(cdc, destination);
  const names = new Set(cdc.map((t) => t.name));
  const slot = cdcSlotName(identity.destination, identity.dataset);
  const [state, existing, info] = [await destination.readState(), await destination.existingTables(), await slotInfo(client, slot)];
  const reason = restartReason(cdc, state, existing, refresh, slot, info?.confirmedLsn ?? undefined, info !== undefined);
  await ensurePublication(client, slot, cdc);
  let newSlot: NewSlot | undefined;
  let replication: pg.Client | undefined;
  let from: string | undefined;
  let upto: string | undefined;
  if (reason) {
    emit({ type: 'warning', message: `change data capture: ${reason}; replication slot ${slot} is (re)created and ${[...names].join(', ')} load in full from its snapshot` });
    await dropSlot(client, slot);
  } else {
    from = state.get(cdc[0]!.name)!.cursorValue!;
    upto = await flushedPosition(client);
  }
  const cursor = (previous: string | null, next: string) => ({ column: cdcCursorColumn(slot), columnType: 'pg_lsn', previous, lowerBound: previous, next });
  let streamed: TableRead[] = [];
  let committedPosition: string | undefined;
  return {
    slot,
    changesOnly: reason ? new Set() : names,
    afterLock: async (c) => {
      if (!reason) return;
      newSlot = await createSlot(config.source, slot, (connection) => (replication = connection));
      await importSnapshot(c, newSlot.snapshotName);
    },
    adjustReads(reads) {
      const copy: TableRead[] = [];
      for (const read of reads) {
        if (!names.has(read.entry.name)) copy.push(read);
        else if (newSlot) copy.push({ ...read, mode: 'full', reconcile: 'never', entry: { ...read.entry, writeDisposition: 'merge', replaceAll: true, cursor: cursor(null, newSlot.consistentPoint) } });
        else streamed.push({ ...read, mode: 'incremental', reconcile: 'never', entry: { ...read.entry, writeDisposition: 'merge', replaceAll: false, cursor: cursor(from!, upto!) } });
      }
      committedPosition = newSlot?.consistentPoint ?? upto;
      return copy;
    },
    async extract(c, packageDir, emit2, onExtracted) {
      if (streamed.length === 0) return [];
      const started = performance.now();
      for (const read of streamed) emit2({ type: 'extract_started', table: read.entry.name, mode: 'incremental', filter: `changes ${from} → ${upto}`, estimatedRows: null });
      const targets = streamed.map((r) => ({ schema: r.entry.sourceSchema, name: r.entry.sourceName, columns: r.entry.columns, primaryKey: r.entry.primaryKey, file: path.join(packageDir, r.entry.file) }));
      // the gate's row_count (after-load): the source's count at `upto`, from the snapshot's count corrected by the
      // transactions on either side of `upto` that the snapshot does and does not see (read in the same pass, up to
      // a position after the snapshot began: see sourceCountAt)
      const counting = config.quality === 'after-load';
      const read = await readChanges(c, slot, slot, from!, upto!, targets, counting ? await flushedPosition(c) : undefined);
      crashPoint('during-extract');
      const result: PackageTable[] = [];
      for (const r of streamed) {
        const changes = read.tables.get(r.entry.sourceName)!;
        await syncFile(path.join(packageDir, r.entry.file));
        emit2({ type: 'extract_finished', table: r.entry.name, rows: changes.rows, bytes: changes.bytes, ms: performance.now() - started });
        const sourceRowCount = counting ? await sourceCountAt(c, r, read.corrections.get(r.entry.sourceName)!, emit2) : null;
        let table: PackageTable = { ...r.entry, rows: changes.rows, bytes: changes.bytes, sourceRowCount, cdc: { transactions: read.transactions, truncated: changes.truncated } };
        const added = await addedColumns(destination, table);
        if (added.length > 0 && table.primaryKey.length > 0) table = await backfillRead(c, table, added, packageDir, emit2);
        result.push(table);
        onExtracted(table);
      }
      emit2({
        type: 'note',
        message: `change data capture: ${read.transactions} transactions, ${read.changes} changes (${read.bytesDecoded} bytes decoded) from ${from} to ${upto}` +
          `${read.skipped > 0 ? `; ${read.skipped} transactions already applied were skipped` : ''}`,
      });
      streamed = [];
      return result;
    },
    async confirm(emit2) {
      if (!committedPosition) return;
      let confirmClient: pg.Client | undefined;
      try {
        confirmClient = await connectSource(config.source, config);
        await advanceSlot(confirmClient, slot, committedPosition);
      } catch (error) {
        emit2({ type: 'warning', message: `the load is committed, but replication slot ${slot} was not confirmed up to ${committedPosition} (${(error as Error).message}); the next run skips what this one applied` });
      } finally {
        if (confirmClient) await closeSource(confirmClient);
      }
    },
    async close() {
      if (newSlot) await newSlot.connection.end().catch(() => undefined);
    },
    interrupt() {
      replication?.end().catch(() => undefined);
    },
  };
}

/** What the destination cannot do with these CDC tables, refused before the source is asked anything (ConfigError, exit 2). */
export function refuseUnsupported(cdc: readonly CatalogTable[], destination: Destination): void {
  if (!destination.capabilities.changeDataCapture) {
    throw new ConfigError(
      `Change data capture (--cdc, or incremental.method cdc for ${cdc.map((t) => t.name).join(', ')}) is not available on this destination yet; nothing was read or written. Run without it.`,
    );
  }
  const keyless = cdc.filter((t) => t.primaryKey.length === 0);
  if (keyless.length > 0 && !destination.capabilities.keylessChangeDataCapture) {
    throw new ConfigError(
      `Change data capture of ${keyless.map((t) => t.name).join(', ')} (no primary key; REPLICA IDENTITY FULL) is not available on this destination: ` +
        `without a transaction over data and state, a replay after a crash would insert its rows twice. Declare primary_key in the catalog (or add one in the source), ` +
        `or load the table without CDC. Nothing was read or written.`,
    );
  }
}

/** Why the run cannot continue from the stored position (undefined: it can). */
export function restartReason(
  cdc: readonly CatalogTable[],
  state: ReadonlyMap<string, TableState>,
  existing: ReadonlySet<string>,
  refresh: ReadonlySet<string>,
  slot: string,
  confirmed: string | undefined,
  slotExists: boolean,
): string | undefined {
  const refreshed = cdc.filter((t) => refresh.has(t.name));
  if (refreshed.length > 0) return `--full-refresh of ${refreshed.map((t) => t.name).join(', ')}`;
  const positions = new Set<string>();
  for (const t of cdc) {
    const s = state.get(t.name);
    if (!existing.has(t.name) || !s || s.cursorColumn !== cdcCursorColumn(slot) || s.cursorValue === null) {
      return slotExists ? `the destination holds no change data capture state for ${t.name} (new table, reset, or the destination was replaced)` : 'first run';
    }
    positions.add(s.cursorValue);
  }
  if (positions.size > 1) return `the tables hold different positions (${[...positions].join(', ')})`;
  if (!slotExists) return `replication slot ${slot} no longer exists in the source (dropped, or the source was restored): the changes since the stored position are gone`;
  const stored = [...positions][0]!;
  if (confirmed !== undefined && lsnValue(confirmed) > lsnValue(stored)) {
    return `replication slot ${slot} was confirmed up to ${confirmed}, past the destination's ${stored} (the destination was restored from an older copy): the changes in between are gone`;
  }
  return undefined;
}

/**
 * The rows a CDC table held at the stream's end point (the LSN the destination now holds), for the gate's row_count:
 * the count in the run's snapshot minus the net rows of the transactions the snapshot sees that commit after that
 * point, plus those of the transactions before it that the snapshot does not see yet. Null (row_count skipped, with a
 * note) when such a transaction truncated the table: its count at the point is not derivable from the snapshot.
 */
async function sourceCountAt(client: pg.Client, read: TableRead, correction: CountCorrection, emit: EventListener): Promise<number | null> {
  if (!correction.exact) {
    emit({ type: 'note', message: `change data capture: ${read.entry.name} was truncated between the run's WAL end point and its snapshot; its row count at the end point is not checked this run` });
    return null;
  }
  const inSnapshot = await countRows(client, read.entry.sourceSchema, read.entry.sourceName).catch((cause: unknown) => {
    throw sourceQueryError(`Counting the rows of ${read.entry.sourceSchema}.${read.entry.sourceName}`, cause);
  });
  return inSnapshot - correction.net;
}

/** Columns the package table has that the destination table lacks (a column added in the source). */
async function addedColumns(destination: Destination, table: PackageTable): Promise<string[]> {
  const current = await destination.describeTable(table.name);
  if (current.size === 0) return [];
  return table.columns.filter((c) => !current.has(c.name)).map((c) => c.name);
}
