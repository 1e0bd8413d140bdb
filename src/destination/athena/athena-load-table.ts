import type { Manifest, PackageTable } from '../../package/load-package.js';
import type { AthenaDataset } from './athena-connection.js';
import { columnDdl, type IcebergColumnPlan } from './athena-column-policy.js';
import { applyDeletesOnAthena } from './athena-reconcile.js';
import { icebergMergeSql, icebergPruneSql } from './athena-sql.js';
import { cdcSourceSql, icebergChangesSql, type CdcBatch } from './athena-cdc.js';
import { stagedFromAthena, stagingRelation } from './athena-staging.js';
import { glueName, stagingTableName } from './athena-state.js';
import type { GlueColumn } from './glue-catalog.js';

/** Where a published table now lives; `rows` when known without a query (a full table holds exactly the batch). */
export interface PublishedTable {
  readonly kind: 'parquet' | 'iceberg';
  readonly location: string;
  readonly rows: number | undefined;
}

/**
 * Waits for the upload of a table's files into `folder` (started in the background as soon as the table was typed and
 * checked: athena-uploads.ts, uploadFolder) and rethrows its failure.
 */
export type UploadedInto = (folder: string) => Promise<void>;

/**
 * The folder a prepared table's files are uploaded into, or undefined when nothing is uploaded (a merge batch without
 * rows). The same folders replaceParquet and mergeIceberg then publish.
 */
export function uploadFolder(ds: AthenaDataset, manifest: Manifest, table: PackageTable, merge: boolean, changes: CdcBatch | undefined): string | undefined {
  if (!merge) return ds.keys.dataFolder(table.name, manifest.runId);
  return (changes ? changes.rows : table.rows) > 0 ? ds.keys.batchFolder(table.name, manifest.runId) : undefined;
}

/** Full table: new files in a new folder (the staging table of a merge, too, reads every file of its folder), then the Glue table is created or repointed there (atomic for readers). */
export async function replaceParquet(ds: AthenaDataset, manifest: Manifest, table: PackageTable, uploaded: UploadedInto, columns: GlueColumn[]): Promise<PublishedTable> {
  const folder = ds.keys.dataFolder(table.name, manifest.runId);
  ds.assertLockHeld();
  await uploaded(folder);
  const location = ds.s3.url(folder);
  await ds.fence(`repointing the Glue table ${ds.dataset}.${glueName(table.name)}`);
  await ds.glue.putParquetTable(ds.dataset, glueName(table.name), columns, location, { ingesta_run_id: manifest.runId });
  return { kind: 'parquet' as const, location, rows: table.rows };
}

/**
 * Incremental table: an Iceberg table updated by MERGE INTO from a staging table over this batch's files (uploaded
 * into batches/<run>/ in the background, see uploadFolder, and kept there afterwards). A full load merges everything,
 * then deletes the keys the batch does not have (each statement is atomic in Iceberg). Each step is fenced by the lock (see AthenaDataset.fence).
 */
export async function mergeIceberg(
  ds: AthenaDataset,
  manifest: Manifest,
  table: PackageTable,
  uploaded: UploadedInto,
  plan: IcebergColumnPlan & { exists: boolean; rebuild: boolean },
  deletesFile?: string,
  changes?: CdcBatch,
): Promise<PublishedTable> {
  const { dataset, s3, glue: catalog, athena, keys } = ds;
  const glue = glueName(table.name);
  const name = `${dataset}.${glue}`;
  const location = s3.url(keys.icebergFolder(table.name));
  ds.assertLockHeld();
  if (plan.rebuild) {
    await ds.fence(`dropping the Iceberg table ${name} to rebuild it`);
    await catalog.deleteTable(dataset, glue);
    await s3.deletePrefix(keys.icebergFolder(table.name));
  }
  if (!plan.exists || plan.rebuild) {
    await ds.fence(`creating the Iceberg table ${name}`);
    await catalog.createIcebergTable(dataset, glue, plan.columns, location);
  } else {
    for (const ddl of columnDdl(glue, plan)) {
      await ds.fence(`changing the columns of ${name}`);
      await athena.execute(ddl, { signal: ds.signal });
    }
  }
  const folder = keys.batchFolder(table.name, manifest.runId);
  const stage = stagingTableName(glue);
  // the batch's timestamps are staged as exact text and read back as timestamp(6) (athena-staging.ts)
  const staged = [...plan.columns.map(stagedFromAthena), ...(changes?.meta ?? [])];
  const source = stagingRelation(dataset, stage, staged);
  const columns = plan.columns.map((c) => c.name);
  const rows = changes ? changes.rows : table.rows;
  // change data capture: a TRUNCATE in the run empties the table first (a replay empties it again: same result)
  if (changes?.truncated) {
    await ds.fence(`emptying ${name} (TRUNCATE in the source)`);
    await athena.execute(icebergPruneSql(dataset, glue, undefined, table.primaryKey), { signal: ds.signal });
  }
  if (rows > 0) {
    await uploaded(folder);
    await ds.fence(`creating the staging table ${dataset}.${stage}`);
    await catalog.putParquetTable(dataset, stage, staged.map((c) => ({ name: c.name, type: c.stageType })), s3.url(folder), { ingesta_run_id: manifest.runId });
    await ds.fence(`the MERGE into ${name}`);
    const merge = changes
      ? icebergChangesSql(dataset, glue, cdcSourceSql(dataset, glue, source, columns, changes.unresolved, table.primaryKey), columns, table.primaryKey)
      : icebergMergeSql(dataset, glue, source, columns, table.primaryKey);
    await athena.execute(merge, { signal: ds.signal });
  }
  if (table.replaceAll) {
    await ds.fence(`pruning ${name}`);
    await athena.execute(icebergPruneSql(dataset, glue, table.rows > 0 ? source : undefined, table.primaryKey), { signal: ds.signal });
  }
  // reconciliation: the keys the source no longer has, after the merge
  if (deletesFile) await applyDeletesOnAthena(ds.reconcileContext(manifest.runId), table.name, table.primaryKey, deletesFile);
  // the batch's files stay: the record of what this run merged (and a way to replay it)
  if (rows > 0) {
    await ds.fence(`dropping the staging table ${dataset}.${stage}`);
    await catalog.deleteTable(dataset, stage);
  }
  // rows in the table now: counted after the publish (athena-load.ts) unless this run changed nothing in it
  const touched = rows > 0 || changes?.truncated === true || table.replaceAll || deletesFile !== undefined || plan.rebuild || !plan.exists;
  return { kind: 'iceberg' as const, location, rows: touched ? undefined : ds.state.tables[table.name]?.rowsInDestination };
}
