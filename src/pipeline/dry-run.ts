import { createDestination, destinationLabel } from '../destination/create-destination.js';
import type { Destination } from '../destination/destination.js';
import { newRunId } from '../package/load-package.js';
import { closeSource, connectSource } from '../source/postgres/postgres-connection.js';
import type { DryRunPlan, EventListener } from './events.js';
import { prepareReads } from './prepare-reads.js';
import { cdcDryRunTable, planCdc } from './cdc-plan.js';
import { destinationIdentity } from '../package/package-root.js';
import { refreshedTables, resolveTables } from './resolve-tables.js';
import type { RunPlan } from './run-plan.js';

// the plan's shape is with the other things a run reports (events.ts); re-exported for callers of dryRun
export type { DryRunPlan } from './events.js';

/**
 * --dry-run: resolves the tables, reads the destination's state read-only, opens the source snapshot and decides
 * every table's read (mode, cursor window, SELECT) and the destination's steps, then stops. Nothing is extracted
 * and nothing is written: no package, no lock, no table, no state.
 */
export async function dryRun(plan: RunPlan, emit: EventListener = () => undefined): Promise<DryRunPlan> {
  const { config, dataset } = plan;
  const runId = newRunId();
  const client = await connectSource(config.source, config);
  let destination: Destination | undefined;
  try {
    const tables = await resolveTables(client, plan.catalog, plan.requests);
    const refresh = refreshedTables(config.fullRefresh, tables);
    destination = await createDestination(config, dataset, { readOnly: true, missingAsEmpty: true });
    await destination.open();
    const dest = destination;
    // change data capture: the slot and the stored LSN, read before the snapshot (as a run reads its end point)
    const cdc = await planCdc(client, config, tables, refresh, dest, { destination: destinationIdentity(config, dataset), dataset });
    const { reads, added } = await prepareReads(client, plan, tables, refresh, dest, emit, undefined, cdc && { changesOnly: cdc.reason ? new Set() : cdc.tables });
    const result: DryRunPlan = {
      runId,
      env: config.env,
      dataset,
      destination: destinationLabel(config),
      tables: reads.map((r) => cdc?.tables.has(r.entry.name) ? cdcDryRunTable(cdc, r, dest, runId, added.get(r.entry.name)) : ({
        table: r.entry.name,
        mode: r.mode,
        cursor: r.entry.cursor ? { column: r.entry.cursor.column, from: r.entry.cursor.lowerBound, to: r.entry.cursor.next ?? r.entry.cursor.previous } : undefined,
        select: r.select,
        steps: [
          ...(r.reconcile === 'auto' ? [`count the source's rows; if the destination would hold another number after the batch, reconcile keys:`] : []),
          ...(r.reconcile !== 'never'
            ? [
                `${r.reconcile === 'always' ? 'reconcile keys: ' : '  '}COPY every ${r.entry.primaryKey.join(', ')} with ${r.entry.cursor!.column} from the source; ` +
                  `compare with ${r.entry.name}; re-read the rows it lacks or holds with another cursor value; delete the keys the source no longer has`,
              ]
            : []),
          ...(r.backfill && r.backfill.length > 0
            ? [`backfill: COPY ${r.entry.primaryKey.join(', ')} with ${r.backfill.join(', ')} (new in the source) of every source row that has a value; merged into the older rows`]
            : []),
          ...dest.plannedSteps(r.entry, runId),
        ],
      })),
    };
    emit({ type: 'dry_run', plan: result });
    return result;
  } finally {
    await closeSource(client);
    await destination?.close();
  }
}
