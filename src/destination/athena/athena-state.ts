/**
 * ingesta's own state for a dataset in S3 (a Fargate task starts empty every time, so nothing lives on its disk):
 *
 *   <prefix>/<dataset>/_ingesta/state.json          cursors, current data locations, column types per table
 *   <prefix>/<dataset>/_ingesta/lock.json           the run that holds the dataset (If-None-Match: *)
 *   <prefix>/<dataset>/_ingesta/runs/<run>.json     one record per run: loaded or failed, per-table rows
 *   <prefix>/<dataset>/_ingesta/quality/<run>.json  the quality gate's results
 *   <prefix>/<dataset>/<table>/data/<run>/          Parquet files of a full table (the Glue table points at one run)
 *   <prefix>/<dataset>/<table>/iceberg/             the Iceberg table of an incremental table
 *   <prefix>/<dataset>/<table>/batches/<run>/       each merge batch as Parquet: read by MERGE through a staging
 *                                                   table, then kept as the record of what each committed run
 *                                                   loaded (a run that never committed: removed, athena-cleanup.ts)
 *
 * state.json is written with If-Match on the ETag read at the start, after the data step succeeded: state never runs
 * ahead of data, and two runs cannot overwrite each other's state.
 */
export interface AthenaTableState {
  readonly kind: 'parquet' | 'iceberg';
  /** s3:// folder the Glue table reads (parquet: one run's data folder). */
  readonly location: string;
  /** Destination columns and their DuckDB types, in order (for evolution and the quality gate). */
  readonly columns: readonly (readonly [string, string])[];
  readonly primaryKey: readonly string[];
  readonly source: string;
  readonly writeDisposition: string;
  readonly cursor: { readonly column: string; readonly type: string; readonly value: string | null } | undefined;
  readonly runId: string;
  readonly snapshotAt: string | undefined;
  /** Rows this table's last load read (its batch). */
  readonly rows: number;
  /**
   * Rows an Iceberg (merge) table held after its last load, counted in Athena after the publish; kept while a run
   * changes nothing in it, so a run with no change makes no Athena statement. Absent in states written before.
   */
  readonly rowsInDestination?: number;
  /** Source name and type per destination column (the name mapping). */
  readonly sources: Readonly<Record<string, { readonly name: string; readonly type: string }>>;
}

export interface AthenaState {
  readonly version: 1;
  readonly tables: Readonly<Record<string, AthenaTableState>>;
}

export const EMPTY_STATE: AthenaState = { version: 1, tables: {} };

export interface DatasetKeys {
  readonly base: string;
  readonly state: string;
  readonly lock: string;
  run(runId: string): string;
  quality(runId: string): string;
  dataFolder(table: string, runId: string): string;
  dataRoot(table: string): string;
  icebergFolder(table: string): string;
  batchFolder(table: string, runId: string): string;
  batchRoot(table: string): string;
}

/** Object keys of a dataset under the BUCKET_URL prefix. Folders end with '/'. */
export function datasetKeys(prefix: string, dataset: string): DatasetKeys {
  const base = [prefix, dataset].filter(Boolean).join('/');
  return {
    base,
    state: `${base}/_ingesta/state.json`,
    lock: `${base}/_ingesta/lock.json`,
    run: (runId) => `${base}/_ingesta/runs/${runId}.json`,
    quality: (runId) => `${base}/_ingesta/quality/${runId}.json`,
    dataFolder: (table, runId) => `${base}/${table}/data/${runId}/`,
    dataRoot: (table) => `${base}/${table}/data/`,
    icebergFolder: (table) => `${base}/${table}/iceberg/`,
    batchFolder: (table, runId) => `${base}/${table}/batches/${runId}/`,
    batchRoot: (table) => `${base}/${table}/batches/`,
  };
}

/** Name of the Glue table Athena's MERGE reads a batch from. */
/**
 * The Glue/Athena name of a table: lower case, as Glue stores names and Athena expects them (column names are
 * lower-cased when they are mapped). State, S3 keys and messages keep the name as the source spells it.
 */
export const glueName = (table: string): string => table.toLowerCase();

export function stagingTableName(table: string): string {
  return `${table}__ingesta_stage`;
}
