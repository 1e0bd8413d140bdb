import path from 'node:path';
import { DataError } from '../../errors.js';
import type { PackageTable } from '../../package/load-package.js';
import type { NormalizeSession } from '../../normalize/normalize-session.js';
import { writeTypedParquet, type TypedParquet } from '../../normalize/typed-parquet.js';
import { castBatchFile, duckTypeOf, glueColumnsOf, planIcebergColumns, type IcebergColumnPlan } from './athena-column-policy.js';
import { athenaColumnType } from './athena-type-map.js';
import { stagedParquetSql } from './athena-staging.js';
import { glueName } from './athena-state.js';
import type { GlueCatalog, GlueColumn } from './glue-catalog.js';

/** One table of a package, ready to publish: its Parquet files, the columns state records, and (merge) its column plan. */
export interface PreparedTable {
  readonly table: PackageTable;
  readonly files: string[];
  /** Column name and DuckDB type, as state.json records them. */
  readonly columns: [string, string][];
  /**
   * Merge tables: how the batch meets the Iceberg table; `rebuild` when a full load recreates it with new types, or
   * without the columns the source no longer has (`dropped`).
   */
  readonly plan: (IcebergColumnPlan & { readonly exists: boolean; readonly rebuild: boolean; readonly dropped?: readonly string[] }) | undefined;
}

/** An Athena type's kind: integers, decimals and floats each one kind whatever their width; any other type itself. */
function typeKind(type: string): string {
  const t = type.toLowerCase().replace(/\s+/g, '');
  if (/^(tinyint|smallint|int|integer|bigint)$/.test(t)) return 'integer';
  if (t.startsWith('decimal(')) return 'decimal';
  if (/^(float|real|double)$/.test(t)) return 'float';
  return t;
}

/** The Parquet format a table's batch is written for. */
const formatOf = (table: PackageTable) => (table.writeDisposition === 'merge' ? 'iceberg' : 'parquet');

/**
 * Writes one table's batch as Parquet files (the folder <table>.parquet of the package), typed by normalize (typed-parquet.ts: declared types, measured numerics, text
 * fallbacks) and mapped to Athena's types (the Iceberg mapping for merge tables, whose batch is the staging table's
 * file: its timestamps as exact text, athena-staging.ts). Every table is typed as a full load (the warnings say
 * "loaded as"): the Iceberg column policy decides later how a batch meets a merge table.
 */
export function writeBatchFile(session: NormalizeSession, table: PackageTable, packageDir: string): Promise<TypedParquet> {
  const format = formatOf(table);
  return writeTypedParquet(session, { ...table, replaceAll: true }, path.join(packageDir, table.file), path.join(packageDir, `${table.name}.parquet`), (name, type) => {
    const mapped = athenaColumnType(name, type, format);
    return format === 'iceberg' ? stagedParquetSql(mapped.parquetSql, mapped.athenaType) : mapped.parquetSql;
  });
}

/**
 * One table's typed batch file, ready to publish: for a merge table, its columns planned against the Iceberg
 * table's as Glue has them (not as state.json remembers them: a run that died after creating the table left state
 * behind) and the batch cast to them. A full load of a merge table whose values no longer fit, or one of whose
 * columns changed kind (text → integer: the values may well fit the old string column), is rebuilt with the batch's
 * types instead.
 */
export async function prepareTable(glue: GlueCatalog, dataset: string, typed: TypedParquet, table: PackageTable): Promise<PreparedTable> {
  const { files, columns: batch } = typed;
  const format = formatOf(table);
  if (format === 'parquet') return { table, files, columns: batch, plan: undefined };
  const glueColumns: GlueColumn[] = batch.map(([name, type]) => ({ name, type: athenaColumnType(name, type, format).athenaType }));
  const existing = await glue.getTable(dataset, glueName(table.name));
  let plan: IcebergColumnPlan & { exists: boolean; rebuild: boolean; dropped?: readonly string[] } = {
    ...planIcebergColumns(glueColumns, existing ? glueColumnsOf(existing) : undefined), exists: !!existing, rebuild: false,
  };
  const rebuild = () => ({ ...planIcebergColumns(glueColumns, undefined), exists: true, rebuild: true });
  // a full load whose column changed kind in the source (text → integer, …) takes the new type, as the schema check
  // reports (regression: the values fitted the old type, so the table kept it: an integer column stayed string)
  const batchType = new Map(glueColumns.map((c) => [c.name, c.type]));
  if (table.replaceAll && [...plan.casts].some(([name, type]) => typeKind(type) !== typeKind(batchType.get(name) ?? type))) plan = rebuild();
  // a full load of a table holding columns the source no longer has removes them, as DuckDB's does and as the run's
  // warning says (regression: Athena has no DROP COLUMN here, so they stayed with their old values in every row)
  const kept = new Set(glueColumns.map((c) => c.name.toLowerCase()));
  const dropped = existing ? glueColumnsOf(existing).filter((c) => !kept.has(c.name.toLowerCase())).map((c) => c.name) : [];
  if (table.replaceAll && dropped.length > 0) plan = { ...rebuild(), dropped };
  try {
    await castBatchFile(table.name, files, plan, table.primaryKey);
  } catch (error) {
    if (!(error instanceof DataError) || !table.replaceAll) throw error;
    plan = rebuild();
  }
  // what state records: the batch's DuckDB type, or the table's where the batch was cast or the column widened
  const changed = new Map([...plan.widened, ...[...plan.casts].map(([name, type]) => ({ name, type }))].map((c) => [c.name, c.type]));
  const columns = batch.map(([name, type]): [string, string] => {
    const athenaType = changed.get(name);
    return [name, athenaType === undefined ? type : (duckTypeOf(athenaType) ?? type)];
  });
  return { table, files, columns, plan };
}
