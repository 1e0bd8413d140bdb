import { quoteIdent } from '../../sql/quote.js';
import type { GlueColumn } from './glue-catalog.js';

/**
 * How a merge table's batch is staged for the MERGE. Athena reads the timestamps of a Parquet (non-Iceberg) table
 * at millisecond precision, so a staging table with timestamp columns would cut the Iceberg table's microseconds
 * for good: timestamps are staged as their exact text (`2024-05-01 10:00:00.123456`, UTC for timestamptz) and the
 * MERGE reads them back with `CAST(… AS timestamp(6))`. Every other column is staged as the type it is loaded as.
 */
export interface StagedColumn {
  readonly name: string;
  /** The staging table's Glue/Athena column type. */
  readonly stageType: string;
  /** Trino expression over the staging column giving the Iceberg column's value. */
  readonly readSql: string;
}

/** The text form a staged timestamp is written in (DuckDB strftime): microseconds always present. */
const TIMESTAMP_TEXT = '%Y-%m-%d %H:%M:%S.%f';

/** The staging column for an Iceberg column of this Athena type. */
export function stagedFromAthena(column: GlueColumn): StagedColumn {
  const q = quoteIdent(column.name);
  if (column.type === 'timestamp') return { name: column.name, stageType: 'string', readSql: `CAST(${q} AS timestamp(6))` };
  return { name: column.name, stageType: column.type, readSql: q };
}

/** DuckDB expression writing a batch column into the staging Parquet file: `valueSql` (of `athenaType`) as staged. */
export function stagedParquetSql(valueSql: string, athenaType: string): string {
  return athenaType === 'timestamp' ? `strftime(${valueSql}, '${TIMESTAMP_TEXT}')` : valueSql;
}

/** The relation the MERGE (and the prune after a full load) reads: the staging table with its columns as loaded. */
export function stagingRelation(database: string, stage: string, columns: readonly StagedColumn[]): string {
  return `(SELECT ${columns.map((c) => `${c.readSql} AS ${quoteIdent(c.name)}`).join(', ')} FROM ${quoteIdent(database)}.${quoteIdent(stage)})`;
}
