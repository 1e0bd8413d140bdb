import type { Manifest, PackageTable } from '../../package/load-package.js';
import { duckdbDialect } from '../../quality/quality-dialect.js';
import type { GateTarget } from '../../quality/quality-gate.js';
import type { CapabilityMembers, Destination, DestinationCapabilities, LoadSession, TableLoadResult, TableState } from '../destination.js';
import type { KeyReconciler } from '../key-reconciler.js';
import type { DuckDBSettings } from '../../config/runtime-settings.js';
import { DuckDBFile } from './duckdb-connection.js';
import { DuckDBHistory } from './duckdb-history.js';
import { DuckDBLoader } from './duckdb-load.js';
import { countAfterMerge, diffKeys } from './duckdb-reconcile.js';
import { STATE_TABLE } from './duckdb-sql.js';

export const DUCKDB_CAPABILITIES = Object.freeze({
  caseSensitiveIdentifiers: false,
  lowerCaseIdentifiers: false,
  loadWhileExtracting: true,
  keyReconciliation: true,
  columnBackfill: true,
  changeDataCapture: true,
  keylessChangeDataCapture: true,
  fullTablesKeepDroppedColumns: true,
} as const satisfies DestinationCapabilities);

/**
 * A local DuckDB file: one transaction commits data, cursors and the load record together. The file and its
 * connections are duckdb-connection.ts, the load duckdb-load.ts (one table: duckdb-load-table.ts, evolution:
 * duckdb-evolution.ts, child tables: duckdb-child-tables.ts), ingesta's own tables duckdb-history.ts, key
 * reconciliation duckdb-reconcile.ts.
 */
export class DuckDBDestination implements Destination, CapabilityMembers<typeof DUCKDB_CAPABILITIES> {
  readonly capabilities = DUCKDB_CAPABILITIES;
  private readonly db: DuckDBFile;
  private readonly loader: DuckDBLoader;
  /** ingesta's own tables in the dataset: run history, quality results, schema versions (duckdb-history.ts). */
  readonly history: DuckDBHistory;
  /** Key reconciliation, on a second connection that sees committed data only (see duckdb-reconcile.ts). */
  readonly reconciler: KeyReconciler;

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
    this.reconciler = {
      diffKeys: (request) => db.onReader((reader) => diffKeys(reader, db.ref, request)),
      // for the automatic reconciliation
      countAfterMerge: (request) => db.onReader((reader) => countAfterMerge(reader, db.ref, request)),
    };
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
    const steps = table.cdc
      ? [`apply the changes in commit order (duckdb-cdc-apply.ts): the last TRUNCATE empties ${target}; ${table.primaryKey.length > 0 ? `per key the last change wins: DELETE the changed keys (${table.primaryKey.join(', ')}), INSERT their final rows` : 'no key: each change in turn, a delete removing one row equal to the old values'}`]
      : table.replaceAll
      ? [`CREATE OR REPLACE TABLE ${target} with the source's columns${table.dropRemovedColumns ? '' : ' (and any column the source dropped, kept NULL)'}, filled from the extract`]
      : [`stage the batch, DELETE FROM ${target} the batch's keys (${table.primaryKey.join(', ')}), INSERT the batch`];
    for (const c of table.unnest) steps.push(`keep ${this.dataset}.${table.name}__${c} in step (unnested ${c})`);
    steps.push(`in the same transaction: ${table.cursor ? `cursor ${table.cursor.column} → ${table.cursor.next ?? table.cursor.previous ?? 'unchanged'}, ` : ''}load record; COMMIT`);
    return steps;
  }

  /** The incremental cursors, from ingesta's state table in the dataset. */
  async readState(): Promise<Map<string, TableState>> {
    const state = new Map<string, TableState>();
    if (!(await this.db.tableExists(STATE_TABLE))) return state;
    const rows = await this.db.query(`SELECT table_name, cursor_column, cursor_value, run_id FROM ${this.db.ref.table(STATE_TABLE)}`);
    for (const r of rows) {
      state.set(String(r.table_name), {
        table: String(r.table_name),
        cursorColumn: String(r.cursor_column),
        cursorValue: r.cursor_value == null ? null : String(r.cursor_value),
        runId: String(r.run_id),
      });
    }
    return state;
  }

  /** How far the load transaction's current statement is (DuckDB's query progress), for a long load's heartbeat. */
  statementProgress(): { percent: number } | null {
    return this.db.statementProgress();
  }

  interrupt(): void {
    this.db.interrupt();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
