import type { RunConfig } from '../config/config.js';
import { DuckDBFile } from './duckdb/duckdb-connection.js';
import { RUNS_TABLE } from './duckdb/duckdb-sql.js';

/**
 * The datasets ingesta has written to a destination (a DuckDB file's schemas with a run history; the folders under
 * BUCKET_URL with ingesta's records), sorted: what `status` shows without --dataset, and lists for an unknown one.
 */
export async function listDatasets(config: Pick<RunConfig, 'athena' | 'duckdbPath' | 'duckdb'>): Promise<string[]> {
  if (config.athena) {
    const { listAthenaDatasets } = await import('./athena/athena-datasets.js');
    return listAthenaDatasets(config.athena);
  }
  const file = new DuckDBFile(config.duckdbPath, 'main', { readOnly: true, settings: config.duckdb });
  await file.open();
  try {
    const rows = await file.query('SELECT DISTINCT schema_name FROM duckdb_tables() WHERE database_name = current_database() AND table_name = $1 ORDER BY 1', [RUNS_TABLE]);
    return rows.map((r) => String(r.schema_name));
  } finally {
    file.close();
  }
}
