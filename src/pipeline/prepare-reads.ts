import type pg from 'pg';
import type { CatalogTable } from '../catalog/catalog.js';
import type { Destination } from '../destination/destination.js';
import { sourceQueryError } from '../source/postgres/postgres-connection.js';
import { beginLockedSnapshot, type RelationName } from '../source/postgres/table-locks.js';
import type { SourceTable } from '../source/postgres/postgres-introspector.js';
import type { EventListener } from './events.js';
import { reportSourceComparison } from '../source/postgres/catalog-comparison.js';
import { introspectAll } from '../source/postgres/catalog-introspection.js';
import { planReads } from './plan-reads.js';
import type { TableRead } from './table-read.js';
import type { RunPlan } from './run-plan.js';
import { checkSchemas } from './schema-check.js';
import { refuseNullKeys } from './null-keys.js';
import { planBackfills } from './backfill.js';
import type { ReconcileMode } from '../catalog/reconcile-mode.js';
import { reconciledTables, selectedTables } from './resolve-tables.js';
import { ConfigError } from '../errors.js';

/** What change data capture tells the reads (cdc-stage.ts; cdc-plan.ts for a dry run). */
export interface CdcHooks {
  /** Between LOCK and the snapshot's first query: a new slot's snapshot is joined here. */
  readonly afterLock?: (client: pg.Client) => Promise<void>;
  /** The CDC tables read as changes this run (none when the slot is recreated: they load in full). */
  readonly changesOnly: ReadonlySet<string>;
}

/**
 * What a run and a dry run share: read the destination's state, open the source snapshot with every table locked
 * (ACCESS SHARE; `afterSnapshot` then lets other readers join it), introspect every table,
 * report catalog disagreements, check the schemas against the destination (freeze and incompatible changes stop
 * here), and decide each table's read. Nothing is written.
 */
export async function prepareReads(
  client: pg.Client,
  plan: RunPlan,
  tables: readonly CatalogTable[],
  refresh: ReadonlySet<string>,
  destination: Destination,
  emit: EventListener,
  afterSnapshot?: (locked: readonly RelationName[]) => Promise<void>,
  cdc?: CdcHooks,
): Promise<{ snapshotAt: string; sources: Map<string, SourceTable>; reads: TableRead[]; added: ReadonlyMap<string, readonly string[]> }> {
  const [state, existing] = [await destination.readState(), await destination.existingTables()];
  // every table of the run is locked (ACCESS SHARE) before the snapshot's first query: a TRUNCATE or a rewriting
  // ALTER TABLE then waits for the run instead of making a table not yet read look empty (table-locks.ts)
  const locked = await beginLockedSnapshot(client, tables, cdc?.afterLock);
  const snapshotAt = (
    await client.query<{ now: string }>('SELECT now()::text AS now').catch((cause: unknown) => {
      throw sourceQueryError('Starting the source snapshot', cause);
    })
  ).rows[0]!.now;
  emit({ type: 'snapshot_taken', snapshotAt });
  // the run's other reader connections join the snapshot now and take the same locks, before a TRUNCATE can queue
  // behind ours (a reader asking for its lock behind a queued TRUNCATE would wait for the end of the run)
  await afterSnapshot?.(locked);
  const sources = await introspectAll(client, tables);
  reportSourceComparison(emit, plan.catalog, tables, sources);
  const addedColumns = new Map<string, string[]>();
  const columnsByTable = await checkSchemas(
    {
      tables, sources, refresh,
      naming: { caseSensitive: destination.capabilities.caseSensitiveIdentifiers, lowerCase: destination.capabilities.lowerCaseIdentifiers },
      describe: (table) => destination.describeTable(table),
      addedColumns,
      changesOnly: cdc?.changesOnly,
      previousSources: previousSourcesOf(destination),
      fullTablesKeepDropped: destination.capabilities.fullTablesKeepDroppedColumns,
    },
    emit,
  );
  const modes = reconciledTables(plan.config.reconcile, tables);
  if (plan.config.reconcile.always.kind === 'tables') {
    const named = selectedTables(plan.config.reconcile.always, tables);
    for (const t of tables) {
      if (named.has(t.name) && modes.get(t.name) !== 'always') {
        emit({ type: 'warning', table: t.name, message: `--reconcile ${t.name}: not an incremental table with a key; its full load already equals the source` });
      }
    }
  }
  const always = [...modes].filter(([, mode]) => mode === 'always').map(([name]) => name);
  if (always.length > 0 && !destination.capabilities.keyReconciliation) {
    throw new ConfigError(
      `Key reconciliation (--reconcile, or incremental.reconcile in the catalog, for ${always.join(', ')}) is not available on this destination yet. ` +
        'Run without it, or reload those tables with --full-refresh.',
    );
  }
  // the automatic mode needs the destination to count and compare keys: without it, plain incremental reads
  const reconcile = destination.capabilities.keyReconciliation ? modes : new Map<string, ReconcileMode>();
  const reads = await planReads(client, { tables, state, existing, refresh, reconcile, defaultLagSeconds: plan.config.lagSeconds, caseSensitiveIdentifiers: destination.capabilities.caseSensitiveIdentifiers }, sources, columnsByTable, emit);
  await refuseNullKeys(client, tables, sources, reads);
  // columns new in the source: merge tables fill them into their older rows (backfill.ts)
  return { snapshotAt, sources, reads: planBackfills(reads, addedColumns, destination.capabilities, emit), added: addedColumns };
}

/** Per table, the source column each destination column was last loaded from (the dataset's latest schema versions, read once). */
function previousSourcesOf(destination: Destination): (table: string) => Promise<ReadonlyMap<string, string>> {
  let doc: ReturnType<Destination['history']['schemaDocument']> | undefined;
  return async (table) => {
    doc ??= destination.history.schemaDocument();
    const columns = (await doc).tables[table]?.columns ?? [];
    return new Map(columns.flatMap((c) => (c.source_name === null ? [] : [[c.name, c.source_name] as const])));
  };
}
