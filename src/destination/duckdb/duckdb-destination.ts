import type { Manifest, PackageTable } from '../../package/load-package.js';
import type { CheckResult } from '../../quality/check-types.js';
import { duckdbDialect } from '../../quality/quality-dialect.js';
import type { GateTarget } from '../../quality/quality-gate.js';
import type { DatasetSchemaDoc } from '../../schema/schema-document.js';
import { quoteLiteral } from '../../sql/quote.js';
import type { DatasetStatus, Destination, DestinationCapabilities, KeyDiff, KeyDiffRequest, LoadSession, MergeCountRequest, TableLoadResult, TableState } from '../destination.js';
import type { DuckDBSettings } from '../../config/runtime-settings.js';
import { DuckDBFile } from './duckdb-connection.js';
import { DuckDBHistory } from './duckdb-history.js';
import { DuckDBLoader } from './duckdb-load.js';
import { countAfterMerge, diffKeys } from './duckdb-reconcile.js';

export const DUCKDB_CAPABILITIES: DestinationCapabilities = Object.freeze({
  transactional: true,
  mergeStrategy: 'delete-insert',
  timestampPrecision: 'microsecond',
  caseSensitiveIdentifiers: false,
  lowerCaseIdentifiers: false,
  keyReconciliation: true,
  columnBackfill: true,
  changeDataCapture: true,
});

/**
 * A local DuckDB file: one transaction commits data, cursors and the load record together. The file and its
 * connections are duckdb-connection.ts, the load duckdb-load.ts (one table: duckdb-load-table.ts, evolution:
 * duckdb-evolution.ts, child tables: duckdb-child-tables.ts), ingesta's own tables duckdb-history.ts, key
 * reconciliation duckdb-reconcile.ts.
 */
export class DuckDBDestination implements Destination {
  readonly capabilities = DUCKDB_CAPABILITIES;
  private readonly db: DuckDBFile;
  private readonly loader: DuckDBLoader;
  /** ingesta's own tables in the dataset: state, run history, quality results, schema versions. */
  private readonly history: DuckDBHistory;

  constructor(file: string, private readonly dataset: string, options: { readonly readOnly?: boolean; readonly settings?: DuckDBSettings } = {}) {
    const db = new DuckDBFile(file, dataset, options);
    this.db = db;
    this.loader = new DuckDBLoader(db);
    this.history = new DuckDBHistory({
      query: (sql, values) => db.query(sql, values),
      run: (sql, values) => db.run(sql, values),
      ref: () => db.ref,
      tableExists: (table) => db.tableExists(table),
      dataset,
      label: file,
      open: () => db.isOpen,
    });
  }

  open(): Promise<void> {
    return this.db.open();
  }

  existingTables(): Promise<Set<string>> {
    return this.db.existingTables();
  }

  /** Column name → type of a dataset table, in column order; empty when the table does not exist. */
  describeTable(table: string): Promise<Map<string, string>> {
    return this.db.describeTable(table);
  }

  loadPackage(manifest: Manifest, packageDir: string, onTable?: (result: TableLoadResult) => void): Promise<TableLoadResult[]> {
    return this.loader.loadPackage(manifest, packageDir, onTable);
  }

  /** The load transaction, opened before extraction ends (see duckdb-load.ts). */
  beginLoad(manifest: Pick<Manifest, 'runId'>, packageDir: string): Promise<LoadSession> {
    return this.loader.beginLoad(manifest, packageDir);
  }

  qualityTarget(): GateTarget {
    return {
      dialect: duckdbDialect((name) => this.db.ref.table(name)),
      query: (sql) => this.db.query(sql),
      columnTypes: (table) => this.db.describeTable(table),
    };
  }

  plannedSteps(table: Omit<PackageTable, 'rows' | 'bytes' | 'sourceRowCount'>): string[] {
    const target = `${this.dataset}.${table.name}`;
    const steps = table.replaceAll
      ? [`CREATE OR REPLACE TABLE ${target} with the source's columns${table.dropRemovedColumns ? '' : ' (and any column the source dropped, kept NULL)'}, filled from the extract`]
      : [`stage the batch, DELETE FROM ${target} the batch's keys (${table.primaryKey.join(', ')}), INSERT the batch`];
    for (const c of table.unnest) steps.push(`keep ${this.dataset}.${table.name}__${c} in step (unnested ${c})`);
    steps.push(`in the same transaction: ${table.cursor ? `cursor ${table.cursor.column} → ${table.cursor.next ?? table.cursor.previous ?? 'unchanged'}, ` : ''}load record; COMMIT`);
    return steps;
  }

  /** Writes a table (through a SELECT list over its columns) to a Parquet file, zstd-compressed. */
  async copyToParquet(table: string, selectList: string, file: string): Promise<void> {
    await this.db.run(`COPY (SELECT ${selectList} FROM ${this.db.ref.table(table)}) TO ${quoteLiteral(file)} (FORMAT parquet, COMPRESSION zstd)`);
  }

  readState(): Promise<Map<string, TableState>> {
    return this.history.readState();
  }

  isRunLoaded(runId: string): Promise<boolean> {
    return this.history.isRunLoaded(runId);
  }

  schemaDocument(): Promise<DatasetSchemaDoc> {
    return this.history.schemaDocument();
  }

  status(runs: number): Promise<DatasetStatus> {
    return this.history.status(runs);
  }

  resetState(tables: readonly string[]): Promise<string[]> {
    return this.history.resetState(tables);
  }

  lastLoadedSnapshots(): Promise<Map<string, string>> {
    return this.history.lastLoadedSnapshots();
  }

  storeQualityResults(runId: string, env: string, results: readonly CheckResult[]): Promise<void> {
    return this.history.storeQualityResults(runId, env, results);
  }

  recordFailure(...args: Parameters<DuckDBHistory['recordFailure']>): Promise<void> {
    return this.history.recordFailure(...args);
  }

  /** Key reconciliation, on a second connection that sees committed data only (see duckdb-reconcile.ts). */
  async diffKeys(request: KeyDiffRequest): Promise<KeyDiff> {
    return this.db.onReader((reader) => diffKeys(reader, this.db.ref, request));
  }

  /** For the automatic reconciliation: see duckdb-reconcile.ts. */
  async countAfterMerge(request: MergeCountRequest): Promise<number | undefined> {
    return this.db.onReader((reader) => countAfterMerge(reader, this.db.ref, request));
  }

  interrupt(): void {
    this.db.interrupt();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
