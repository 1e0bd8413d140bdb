import { quoteIdent } from '../../sql/quote.js';
import type { ColumnMapping } from '../../normalize/column-mapping.js';

/** Names of ingesta's own tables inside the dataset. */
export const RUNS_TABLE = '_ingesta_runs';
export const LOADS_TABLE = '_ingesta_loads';
export const STATE_TABLE = '_ingesta_state';
export const QUALITY_TABLE = '_ingesta_quality';
export const SCHEMA_TABLE = '_ingesta_schema';

/**
 * A dataset inside one DuckDB database file, always named with three parts ("db"."dataset"."table"): a dataset
 * named like the file itself (edges.duckdb + dataset edges) would otherwise be ambiguous.
 */
export class DatasetRef {
  constructor(
    readonly database: string,
    readonly dataset: string,
  ) {}
  /** "db"."dataset" */
  get schema(): string {
    return `${quoteIdent(this.database)}.${quoteIdent(this.dataset)}`;
  }
  /** "db"."dataset"."table" */
  table(name: string): string {
    return `${this.schema}.${quoteIdent(name)}`;
  }
}

/** DDL of the metadata tables: run history, per-table load records, incremental state. */
export function metadataDdl(ref: DatasetRef): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${ref.schema}`,
    `CREATE TABLE IF NOT EXISTS ${ref.table(RUNS_TABLE)} (
       run_id VARCHAR NOT NULL, env VARCHAR, status VARCHAR NOT NULL, tables VARCHAR[],
       snapshot_at TIMESTAMPTZ, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, message VARCHAR)`,
    `CREATE TABLE IF NOT EXISTS ${ref.table(LOADS_TABLE)} (
       run_id VARCHAR NOT NULL, table_name VARCHAR NOT NULL, write_disposition VARCHAR NOT NULL, mode VARCHAR NOT NULL,
       rows_loaded BIGINT NOT NULL, rows_in_destination BIGINT, source_rows BIGINT,
       cursor_column VARCHAR, cursor_from VARCHAR, cursor_to VARCHAR, loaded_at TIMESTAMPTZ NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${ref.table(STATE_TABLE)} (
       table_name VARCHAR NOT NULL, cursor_column VARCHAR NOT NULL, cursor_type VARCHAR, cursor_value VARCHAR,
       run_id VARCHAR NOT NULL, updated_at TIMESTAMPTZ NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${ref.table(QUALITY_TABLE)} (
       run_id VARCHAR NOT NULL, env VARCHAR, check_name VARCHAR NOT NULL, table_name VARCHAR NOT NULL, status VARCHAR NOT NULL,
       observed VARCHAR, expected VARCHAR, message VARCHAR, details JSON, checked_at TIMESTAMPTZ NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${ref.table(SCHEMA_TABLE)} (
       table_name VARCHAR NOT NULL, version_hash VARCHAR NOT NULL, schema JSON NOT NULL, run_id VARCHAR NOT NULL, recorded_at TIMESTAMPTZ NOT NULL)`,
  ];
}

export function columnList(columns: readonly { name: string }[]): string {
  return columns.map((c) => quoteIdent(c.name)).join(', ');
}

export function createTableSql(ref: DatasetRef, table: string, columns: readonly ColumnMapping[], orReplace: boolean): string {
  const defs = columns.map((c) => `${quoteIdent(c.name)} ${c.destinationType}`).join(', ');
  return `CREATE ${orReplace ? 'OR REPLACE TABLE' : 'TABLE IF NOT EXISTS'} ${ref.table(table)} (${defs})`;
}

/** Key equality between the target table and the staging table, for DELETE … USING. */
export function keyJoin(target: string, staging: string, primaryKey: readonly string[]): string {
  return primaryKey.map((k) => `${target}.${quoteIdent(k)} = ${staging}.${quoteIdent(k)}`).join(' AND ');
}

/** Name of the child table that holds the elements of an unnested column. */
export function childTableName(table: string, column: string): string {
  return `${table}__${column}`;
}

/**
 * Rows of an unnested column: the parent's key, the element's 0-based position, the element. A JSON column
 * contributes only JSON arrays (objects and scalars have no elements); a list column its elements, NULLs included.
 */
export function unnestSelect(from: string, primaryKey: readonly string[], column: string, isJson: boolean): string {
  const key = primaryKey.map(quoteIdent).join(', ');
  const c = quoteIdent(column);
  const list = isJson ? `CAST(${c} AS JSON[])` : c;
  const where = isJson ? `${c} IS NOT NULL AND json_type(${c}) = 'ARRAY'` : `${c} IS NOT NULL`;
  return (
    `SELECT ${key}, CAST(generate_subscripts(l, 1) - 1 AS BIGINT) AS "_position", unnest(l) AS "value" ` +
    `FROM (SELECT ${key}, ${list} AS l FROM ${from} WHERE ${where})`
  );
}
