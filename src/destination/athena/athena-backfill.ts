import path from 'node:path';
import type { Manifest, PackageTable } from '../../package/load-package.js';
import type { NormalizeSession } from '../../normalize/normalize-session.js';
import { writeTypedParquet, type TypedParquet } from '../../normalize/typed-parquet.js';
import { castBatchFile, planIcebergColumns } from './athena-column-policy.js';
import type { ReconcileContext } from './athena-reconcile.js';
import { icebergBackfillSql } from './athena-sql.js';
import { stagedFromAthena, stagedParquetSql, stagingRelation } from './athena-staging.js';
import { glueName, stagingTableName } from './athena-state.js';
import { athenaColumnType } from './athena-type-map.js';
import type { GlueColumn } from './glue-catalog.js';

/**
 * Column backfill in dev/prod (pipeline/backfill.ts read the key and the columns new in the source of every source
 * row with a value, inside the run's snapshot). The file is typed by normalize like the batch, cast to the
 * Iceberg table's columns (athena-column-policy.ts: a value that does not fit stops the run before anything is
 * written), staged with exact timestamps (athena-staging.ts) and merged into the rows already there:
 * `MERGE … WHEN MATCHED THEN UPDATE SET new = s.new`, after the batch's own MERGE (which added the columns).
 */

/** The table normalize types a backfill file as: the key and the new columns, typed as the batch's. */
function backfillScratchTable(table: PackageTable): PackageTable | undefined {
  const backfill = table.backfill;
  if (!backfill || backfill.rows === 0) return undefined;
  const pick = (name: string) => table.columns.find((c) => c.name === name)!;
  return {
    ...table,
    name: scratchName(table.name),
    file: backfill.file,
    rows: backfill.rows,
    columns: [...table.primaryKey.map(pick), ...backfill.columns.map(pick)],
    backfill: undefined,
  };
}

const scratchName = (table: string) => `${table}__backfill`;

/** Writes a table's backfill file as typed Parquet, staged for the Iceberg MERGE (exact timestamps); none without rows. */
export async function writeBackfillFile(session: NormalizeSession, table: PackageTable, packageDir: string): Promise<TypedParquet | undefined> {
  const scratch = backfillScratchTable(table);
  if (!scratch) return undefined;
  return writeTypedParquet(session, { ...scratch, replaceAll: true }, path.join(packageDir, scratch.file), path.join(packageDir, `${table.name}.backfill.parquet`), (name, type) => {
    const mapped = athenaColumnType(name, type, 'iceberg');
    return stagedParquetSql(mapped.parquetSql, mapped.athenaType);
  });
}

/** Every column the backfill fills, cast to the Iceberg table's `columns` (as they are after the batch's MERGE). */
export async function applyBackfillOnAthena(
  ctx: ReconcileContext,
  typedFile: TypedParquet | undefined,
  manifest: Pick<Manifest, 'runId'>,
  table: PackageTable,
  columns: readonly GlueColumn[],
): Promise<number> {
  const backfill = table.backfill;
  if (!backfill || backfill.rows === 0 || !typedFile) return 0;
  const { files, columns: typed } = typedFile;
  const plan = planIcebergColumns(
    typed.map(([name, type]) => ({ name, type: athenaColumnType(name, type, 'iceberg').athenaType })),
    columns,
  );
  await castBatchFile(table.name, files, plan, table.primaryKey);
  const glue = glueName(table.name);
  const folder = ctx.keys.batchFolder(table.name, `${manifest.runId}-backfill`);
  const stage = stagingTableName(`${glue}__backfill`);
  const staged = plan.columns.map(stagedFromAthena);
  await ctx.fence(`uploading ${ctx.s3.url(folder)}`);
  await ctx.s3.uploadParquetParts(folder, files);
  await ctx.fence(`creating the staging table ${ctx.dataset}.${stage}`);
  await ctx.glue.putParquetTable(ctx.dataset, stage, staged.map((c) => ({ name: c.name, type: c.stageType })), ctx.s3.url(folder), { ingesta_run_id: manifest.runId });
  await ctx.fence(`the backfill MERGE into ${ctx.dataset}.${glue}`);
  await ctx.athena.execute(icebergBackfillSql(ctx.dataset, glue, stagingRelation(ctx.dataset, stage, staged), backfill.columns, table.primaryKey), { signal: ctx.signal });
  await ctx.fence(`dropping the staging table ${ctx.dataset}.${stage}`);
  await ctx.glue.deleteTable(ctx.dataset, stage);
  return backfill.rows;
}
