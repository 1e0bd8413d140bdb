import type pg from 'pg';
import type { CatalogTable } from '../catalog/catalog.js';
import type { Destination } from '../destination/destination.js';
import { beginSnapshot } from '../source/postgres/postgres-connection.js';
import type { SourceTable } from '../source/postgres/postgres-introspector.js';
import type { EventListener } from './events.js';
import { compareWithSource, introspectAll, planReads, type TableRead } from './extract.js';
import type { RunPlan } from './run.js';
import { checkSchemas } from './schema-check.js';

/**
 * What a run and a dry run share: read the destination's state, open the source snapshot, introspect every table,
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
): Promise<{ snapshotAt: string; sources: Map<string, SourceTable>; reads: TableRead[] }> {
  const [state, existing] = [await destination.readState(), await destination.existingTables()];
  await beginSnapshot(client);
  const snapshotAt = (await client.query<{ now: string }>('SELECT now()::text AS now')).rows[0]!.now;
  emit({ type: 'snapshot_taken', snapshotAt });
  const sources = await introspectAll(client, tables);
  for (const message of compareWithSource(plan.catalog, tables, sources)) emit({ type: 'warning', message });
  const columnsByTable = await checkSchemas(
    {
      tables, sources, refresh,
      naming: { caseSensitive: destination.capabilities.caseSensitiveIdentifiers, lowerCase: destination.capabilities.lowerCaseIdentifiers },
      describe: (table) => destination.describeTable(table),
    },
    emit,
  );
  const reads = await planReads(client, { tables, state, existing, refresh, defaultLagSeconds: plan.config.lagSeconds }, sources, columnsByTable, emit);
  return { snapshotAt, sources, reads };
}
