import type { RunPlan } from './run-plan.js';
import type { CatalogTable } from '../catalog/catalog.js';
import { resolveTables } from './resolve-tables.js';
import type { Destination } from '../destination/destination.js';
import { createDestination, destinationLabel } from '../destination/create-destination.js';
import { DestinationError } from '../errors.js';
import type { PackageTable } from '../package/load-package.js';
import { newRunId } from '../package/load-package.js';
import { defineChecks } from '../quality/check-definitions.js';
import { withDestinationColumns, type DestinationColumnName } from '../quality/check-columns.js';
import { destinationNames } from '../normalize/column-mapping.js';
import type { SourceCount } from '../quality/check-types.js';
import { runQualityGate } from '../quality/quality-gate.js';
import { closeSource, connectSource, sourceQueryError } from '../source/postgres/postgres-connection.js';
import { beginLockedSnapshot } from '../source/postgres/table-locks.js';
import type { SourceTable } from '../source/postgres/postgres-introspector.js';
import { countRowsAndChanged } from '../source/postgres/source-profile.js';
import { comparisonType } from '../source/postgres/source-column.js';
import type { EventListener, QualityReport } from './events.js';
import { reportSourceComparison } from '../source/postgres/catalog-comparison.js';
import { introspectAll } from '../source/postgres/catalog-introspection.js';
import { cdcCountsAtStoredLsn } from './cdc-count.js';
import { destinationIdentity } from '../package/package-root.js';
import { estimateTableRows } from '../source/postgres/row-estimate.js';
import { DEFAULT_PROGRESS_INTERVAL_MS, tablePhase, withHeartbeat } from './phase-progress.js';

/**
 * Source column → destination column, per table: as this run loaded them (the package's mappings), else as the
 * destination names a source table's columns (validate-only: the same rule the load applies).
 */
function destinationColumns(destination: Destination, sources: ReadonlyMap<string, SourceTable>, extracted: readonly PackageTable[] = []): DestinationColumnName {
  const byTable = new Map<string, Map<string, string>>();
  for (const t of extracted) byTable.set(t.name, new Map(t.columns.map((c) => [c.sourceName, c.name])));
  const rule = { caseSensitive: destination.capabilities.caseSensitiveIdentifiers, lowerCase: destination.capabilities.lowerCaseIdentifiers };
  for (const [table, source] of sources) {
    if (byTable.has(table)) continue;
    const names = source.columns.map((c) => c.name);
    const mapped = destinationNames(names, rule);
    byTable.set(table, new Map(names.map((n, i) => [n, mapped[i]!])));
  }
  return (table, column) => byTable.get(table)?.get(column) ?? column;
}

/**
 * The gate after a load: checks run on the destination just committed; source counts come from the extraction
 * snapshot itself, so writes to the source during or after the run cause no false alarm. Results are stored.
 */
export async function gateAfterLoad(
  plan: RunPlan,
  tables: readonly CatalogTable[],
  destination: Destination,
  sources: ReadonlyMap<string, SourceTable>,
  extracted: readonly PackageTable[],
  runId: string,
  emit: EventListener,
): Promise<QualityReport> {
  const started = new Date();
  const counts = new Map<string, SourceCount>(extracted.flatMap((t) => (t.sourceRowCount === null ? [] : [[t.name, { rows: t.sourceRowCount }] as const])));
  const specs = withDestinationColumns(defineChecks(plan.catalog, tables, sources), destinationColumns(destination, sources, extracted));
  emit({ type: 'quality_started', checks: specs.length });
  const pulse = { emit, intervalMs: plan.config.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS };
  const checks = await withHeartbeat(pulse, 'quality', undefined, undefined, () => runQualityGate(specs, destination.qualityTarget(), counts));
  await destination.history.storeQualityResults(runId, plan.config.env, checks);
  const report: QualityReport = {
    runId, env: plan.config.env, dataset: plan.dataset, mode: 'after-load',
    startedAt: started.toISOString(), finishedAt: new Date().toISOString(), checks,
  };
  emit({ type: 'quality_finished', report });
  return report;
}

/**
 * --solo-validar: the gate alone, read-only on both sides. The source is counted now, in one snapshot; a count
 * difference no larger than the rows changed since the last load (cursor or freshness column newer than what was
 * loaded) is a warning, anything else a failure. Nothing is written: not the destination, not the source.
 */
export async function validateOnly(plan: RunPlan, emit: EventListener = () => undefined): Promise<QualityReport> {
  const { config } = plan;
  const started = new Date();
  const runId = newRunId(started);
  const pulse = { emit, intervalMs: config.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS };
  const client = await connectSource(config.source, config);
  let destination: Destination | undefined;
  try {
    const tables = await resolveTables(client, plan.catalog, plan.requests);
    destination = await createDestination(config, plan.dataset, { readOnly: true });
    await destination.open();
    // a dataset that holds no table was never loaded (or --dataset names another): nothing to validate, exit 5 as
    // for a DuckDB file that does not exist (regression: exit 6 "the quality gate failed", every check failing)
    if ([...(await destination.existingTables())].every((t) => t.startsWith('_ingesta_'))) {
      throw new DestinationError(
        `Dataset ${plan.dataset} in ${destinationLabel(config)} holds no table: it has never been loaded, so there is nothing to validate. ` +
          'Load it first (run without --solo-validar), or check --dataset (INGESTA_DATASET).',
      );
    }
    const [state, snapshots] = [await destination.readState(), await destination.history.lastLoadedSnapshots()];
    // the tables locked before the snapshot's first query, as in a run: a TRUNCATE cannot make one look empty
    await beginLockedSnapshot(client, tables);
    const sources = await introspectAll(client, tables);
    reportSourceComparison(emit, plan.catalog, tables, sources);
    const counts = new Map<string, SourceCount>();
    // tables held by change data capture: the source's count at the LSN the destination holds (cdc-count.ts)
    const atLsn = await cdcCountsAtStoredLsn(client, tables, state, { destination: destinationIdentity(config, plan.dataset), dataset: plan.dataset }, emit);
    for (const [table, rows] of atLsn) counts.set(table, { rows });
    for (const t of tables) {
      if (atLsn.has(t.name)) continue;
      // the stored cursor, when it is this column's (a table read by --cdc holds an LSN, column cdc:<slot>, instead)
      const stored = state.get(t.name);
      const cursor = t.incremental && stored?.cursorColumn === t.incremental.cursorColumn ? stored : undefined;
      const column = cursor?.cursorValue != null ? t.incremental!.cursorColumn : t.freshnessColumn;
      const found = sources.get(t.name)!.columns.find((c) => c.name === column);
      const columnType = found ? comparisonType(found) : undefined;
      const since =
        cursor?.cursorValue != null
          ? { cursor: cursor.cursorValue }
          : snapshots.has(t.name)
            ? { snapshotAt: snapshots.get(t.name)!, timezone: t.freshnessTimezone }
            : undefined;
      // one scan per table: its rows and, if a change column applies, the rows changed since the last load; a phase
      // of its own (phase_started, a heartbeat, phase_finished with the rows)
      const estimatedRows = await estimateTableRows(client, t.schema, t.name);
      const count = () => countRowsAndChanged(client, t.schema, t.name, column && columnType && since ? { column, columnType, since } : undefined);
      const { rows, changed } = await tablePhase(pulse, 'source_count', t.name, estimatedRows, count, (c) => c.rows).catch((cause: unknown) => {
        throw sourceQueryError(`Counting the rows of ${t.schema}.${t.name}`, cause);
      });
      counts.set(t.name, { rows, ...(changed !== undefined ? { changedSinceLoad: changed } : {}) });
    }
    await closeSource(client);
    const specs = withDestinationColumns(defineChecks(plan.catalog, tables, sources), destinationColumns(destination, sources));
    emit({ type: 'quality_started', checks: specs.length });
    const checks = await withHeartbeat(pulse, 'quality', undefined, undefined, () => runQualityGate(specs, destination!.qualityTarget(), counts));
    const report: QualityReport = {
      runId, env: config.env, dataset: plan.dataset, mode: 'only',
      startedAt: started.toISOString(), finishedAt: new Date().toISOString(), checks,
    };
    emit({ type: 'quality_finished', report });
    return report;
  } finally {
    await closeSource(client);
    await destination?.close();
  }
}
