import { quoteIdent } from '../../sql/quote.js';
import { athenaColumnType } from './athena-type-map.js';

/**
 * How a merge table's batch is staged for the MERGE. Athena reads the timestamps of a Parquet (non-Iceberg) table
 * at millisecond precision, so a staging table with timestamp columns would cut the Iceberg table's microseconds
 * for good: timestamps are staged as their exact text (`2024-05-01 10:00:00.123456`, UTC for timestamptz) and the
 * MERGE reads them back with `CAST(… AS timestamp(6))`. Every other column is staged as the type it is loaded as.
 */
export interface StagedColumn {
  readonly name: string;
  /** DuckDB expression over the loaded column for the staging Parquet file. */
  readonly parquetSql: string;
  /** The staging table's Glue/Athena column type. */
  readonly stageType: string;
  /** Trino expression over the staging column (aliased s… by the caller) giving the Iceberg column's value. */
  readonly readSql: string;
}

export function stagedColumn(name: string, duckType: string): StagedColumn {
  const mapped = athenaColumnType(name, duckType);
  const q = quoteIdent(name);
  if (mapped.athenaType === 'timestamp') {
    return { name, parquetSql: `strftime(${mapped.parquetSql}, '%Y-%m-%d %H:%M:%S.%f')`, stageType: 'string', readSql: `CAST(${q} AS timestamp(6))` };
  }
  return { name, parquetSql: mapped.parquetSql, stageType: mapped.athenaType, readSql: q };
}

/** The relation the MERGE (and the prune after a full load) reads: the staging table with its columns as loaded. */
export function stagingRelation(database: string, stage: string, columns: readonly StagedColumn[]): string {
  return `(SELECT ${columns.map((c) => `${c.readSql} AS ${quoteIdent(c.name)}`).join(', ')} FROM ${quoteIdent(database)}.${quoteIdent(stage)})`;
}
