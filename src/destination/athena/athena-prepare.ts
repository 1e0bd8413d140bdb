import path from 'node:path';
import { DataError } from '../../errors.js';
import type { PackageTable } from '../../package/load-package.js';
import { quoteIdent } from '../../sql/quote.js';
import type { DuckDBDestination } from '../duckdb/duckdb-destination.js';
import { castBatchFile, duckTypeOf, glueColumnsOf, planIcebergColumns, type IcebergColumnPlan } from './athena-column-policy.js';
import { athenaColumnType } from './athena-type-map.js';
import { stagedParquetSql } from './athena-staging.js';
import { glueName } from './athena-state.js';
import type { GlueCatalog, GlueColumn } from './glue-catalog.js';

/** One table of a package, ready to publish: its Parquet file, the columns state records, and (merge) its column plan. */
export interface PreparedTable {
  readonly table: PackageTable;
  readonly file: string;
  /** Column name and DuckDB type, as state.json records them. */
  readonly columns: [string, string][];
  /** Merge tables: how the batch meets the Iceberg table; `rebuild` when a full load recreates it with new types. */
  readonly plan: (IcebergColumnPlan & { readonly exists: boolean; readonly rebuild: boolean }) | undefined;
}

/**
 * Writes one table's batch as Parquet (the Iceberg mapping for merge tables) and, for a merge table, plans its
 * columns against the Iceberg table's as Glue has them (not as state.json remembers them: a run that died after
 * creating the table left state behind) and casts the batch to them. A full load of a merge table whose values no
 * longer fit is rebuilt with the batch's types instead.
 */
export async function prepareTable(glue: GlueCatalog, dataset: string, scratch: DuckDBDestination, table: PackageTable, packageDir: string): Promise<PreparedTable> {
  const batch = [...(await scratch.describeTable(table.name))];
  const format = table.writeDisposition === 'merge' ? 'iceberg' : 'parquet';
  const file = path.join(packageDir, `${table.name}.parquet`);
  // a merge table's batch is the staging table's file: its timestamps as exact text (athena-staging.ts)
  const written = batch.map(([name, type]) => {
    const mapped = athenaColumnType(name, type, format);
    return `${format === 'iceberg' ? stagedParquetSql(mapped.parquetSql, mapped.athenaType) : mapped.parquetSql} AS ${quoteIdent(name)}`;
  });
  await scratch.copyToParquet(table.name, written.join(', '), file);
  if (format === 'parquet') return { table, file, columns: batch, plan: undefined };
  const glueColumns: GlueColumn[] = batch.map(([name, type]) => ({ name, type: athenaColumnType(name, type, format).athenaType }));
  const existing = await glue.getTable(dataset, glueName(table.name));
  let plan: IcebergColumnPlan & { exists: boolean; rebuild: boolean } = {
    ...planIcebergColumns(glueColumns, existing ? glueColumnsOf(existing) : undefined), exists: !!existing, rebuild: false,
  };
  try {
    await castBatchFile(table.name, file, plan, table.primaryKey);
  } catch (error) {
    if (!(error instanceof DataError) || !table.replaceAll) throw error;
    plan = { ...planIcebergColumns(glueColumns, undefined), exists: true, rebuild: true };
  }
  // what state records: the batch's DuckDB type, or the table's where the batch was cast or the column widened
  const changed = new Map([...plan.widened, ...[...plan.casts].map(([name, type]) => ({ name, type }))].map((c) => [c.name, c.type]));
  const columns = batch.map(([name, type]): [string, string] => {
    const athenaType = changed.get(name);
    return [name, athenaType === undefined ? type : (duckTypeOf(athenaType) ?? type)];
  });
  return { table, file, columns, plan };
}
