import type pg from 'pg';
import type { CatalogTable } from '../catalog/catalog.js';
import type { RunConfig } from '../config/config.js';
import type { Destination } from '../destination/destination.js';
import { sourceQueryError } from '../source/postgres/postgres-connection.js';
import { cdcSlotName, checkCdcSource, slotInfo } from '../source/postgres/cdc/cdc-slot.js';
import { peekSql } from './cdc-changes.js';
import { cdcCursorColumn, cdcTables, refuseReservedCdcColumns, refuseUnsupported, restartReason } from './cdc-stage.js';
import type { DryRunTable } from './events.js';
import type { TableRead } from './table-read.js';

/** What a run would do for its CDC tables, read-only (for --dry-run): nothing is created, nothing consumed. */
export interface CdcPlan {
  readonly slot: string;
  readonly tables: ReadonlySet<string>;
  /** Why the slot would be (re)created and the tables loaded in full from its snapshot; undefined: changes are read. */
  readonly reason: string | undefined;
  /** The LSN the destination holds (null: none usable). */
  readonly storedLsn: string | null;
  /** The slot's confirmed position (null: no slot). */
  readonly confirmedLsn: string | null;
  /** The source's WAL position now: a run reads up to its own, read at its start. */
  readonly endPoint: string;
  /** WAL bytes between the stored LSN and now: what the run would decode (all of the database's writes). */
  readonly pendingWalBytes: string | null;
}

/**
 * The CDC part of a dry run, with the checks a run makes first (the destination's capabilities, then the source:
 * wal_level, REPLICATION, replica identity); read before the dry run's snapshot, as a run reads its end point.
 */
export async function planCdc(
  client: pg.Client,
  config: RunConfig,
  tables: readonly CatalogTable[],
  refresh: ReadonlySet<string>,
  destination: Destination,
  identity: { readonly destination: string; readonly dataset: string },
): Promise<CdcPlan | undefined> {
  const cdc = cdcTables(config, tables);
  if (cdc.length === 0) return undefined;
  refuseUnsupported(cdc, destination);
  await checkCdcSource(client, cdc);
  await refuseReservedCdcColumns(client, cdc);
  const slot = cdcSlotName(identity.destination, identity.dataset);
  const [state, existing, info] = [await destination.readState(), await destination.existingTables(), await slotInfo(client, slot)];
  const reason = restartReason(cdc, state, existing, refresh, slot, info?.confirmedLsn ?? undefined, info !== undefined);
  const storedLsn = reason ? null : state.get(cdc[0]!.name)!.cursorValue;
  try {
    const { rows } = await client.query<{ now: string; pending: string | null }>(
      `SELECT pg_current_wal_lsn()::text AS now, pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint::text AS pending`,
      [storedLsn],
    );
    return { slot, tables: new Set(cdc.map((t) => t.name)), reason, storedLsn, confirmedLsn: info?.confirmedLsn ?? null, endPoint: rows[0]!.now, pendingWalBytes: rows[0]!.pending };
  } catch (cause) {
    throw sourceQueryError('Reading the WAL position', cause);
  }
}

/** A CDC table as the dry run shows it: a full load from a new slot's snapshot, or the changes since the stored LSN. */
export function cdcDryRunTable(plan: CdcPlan, read: TableRead, destination: Destination, runId: string, added: readonly string[] = []): DryRunTable {
  const column = cdcCursorColumn(plan.slot);
  const cdc = { slot: plan.slot, storedLsn: plan.storedLsn, confirmedLsn: plan.confirmedLsn, endPoint: plan.endPoint, pendingWalBytes: plan.pendingWalBytes, reason: plan.reason ?? null };
  if (plan.reason) {
    const cursor = { column, columnType: 'pg_lsn', previous: null, lowerBound: null, next: `the new slot's consistent point` };
    return {
      table: read.entry.name, mode: 'full', cdc, select: read.select,
      cursor: { column, from: null, to: cursor.next },
      steps: [
        `change data capture: ${plan.reason}; replication slot ${plan.slot} (pgoutput) is ${plan.confirmedLsn ? 'dropped and ' : ''}created with an exported snapshot, ` +
          `and the table is read in full inside it (publication ${plan.slot} over the run's CDC tables)`,
        ...destination.plannedSteps({ ...read.entry, writeDisposition: 'merge', replaceAll: true, cursor }, runId),
        `after the commit: slot ${plan.slot} confirmed up to its consistent point`,
      ],
    };
  }
  const cursor = { column, columnType: 'pg_lsn', previous: plan.storedLsn, lowerBound: plan.storedLsn, next: plan.endPoint };
  const backfilled = added.filter((c) => !read.entry.primaryKey.includes(c));
  return {
    table: read.entry.name, mode: 'incremental', cdc,
    select: peekSql(plan.slot, plan.slot, plan.endPoint),
    cursor: { column, from: plan.storedLsn, to: plan.endPoint },
    steps: [
      `change data capture: the committed changes from ${plan.storedLsn} to the WAL position at the run's start (${plan.endPoint} now; ` +
        `${plan.pendingWalBytes ?? '?'} bytes of WAL to decode, every table's; slot ${plan.slot} confirmed up to ${plan.confirmedLsn ?? '?'}), nothing consumed`,
      // columns new in the source: the run backfills them (cdc-stage.ts; a DEFAULT writes no change to the WAL)
      ...(backfilled.length > 0 && read.entry.primaryKey.length > 0
        ? [`backfill: COPY ${read.entry.primaryKey.join(', ')} with ${backfilled.join(', ')} (new in the source) of every source row that has a value; merged into the older rows`]
        : []),
      ...destination.plannedSteps({ ...read.entry, writeDisposition: 'merge', replaceAll: false, cursor, cdc: { transactions: 0, truncated: false } }, runId),
      `after the commit: slot ${plan.slot} confirmed up to that position`,
    ],
  };
}
