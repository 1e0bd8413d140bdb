import type { AthenaConfig } from '../../config/athena-config.js';
import type { Manifest, PackageTable } from '../../package/load-package.js';
import { athenaDialect } from './athena-quality-dialect.js';
import type { DuckDBSettings } from '../../config/runtime-settings.js';
import type { GateTarget } from '../../quality/quality-gate.js';
import { quoteIdent } from '../../sql/quote.js';
import type { CapabilityMembers, Destination, DestinationCapabilities, TableLoadResult, TableState } from '../destination.js';
import type { KeyReconciler } from '../key-reconciler.js';
import { AthenaDataset, type AthenaClients } from './athena-connection.js';
import { AthenaHistory } from './athena-history.js';
import { loadPackageOnAthena } from './athena-load.js';
import { countAfterMergeOnAthena, diffKeysOnAthena } from './athena-reconcile.js';
import { icebergMergeSql, icebergPruneSql } from './athena-sql.js';
import { stagedFromAthena, stagingRelation } from './athena-staging.js';
import { glueName, stagingTableName } from './athena-state.js';
import { athenaColumnType } from './athena-type-map.js';
import { CDC_OP, icebergChangesSql } from './athena-cdc.js';

export const ATHENA_CAPABILITIES = Object.freeze({
  caseSensitiveIdentifiers: false,
  lowerCaseIdentifiers: true,
  // no transactions: the package is loaded step by step once extracted (athena-load.ts)
  loadWhileExtracting: false,
  keyReconciliation: true,
  columnBackfill: true,
  // change data capture by one MERGE with deletes per table, state after data (athena-cdc.ts)
  changeDataCapture: true,
  // no transaction holds the data and state.json together: a replay of a keyless table's inserts would duplicate rows
  keylessChangeDataCapture: false,
  // a full table's Glue definition is the batch's columns (athena-load-table.ts, replaceParquet)
  fullTablesKeepDroppedColumns: false,
} as const satisfies DestinationCapabilities);

/**
 * S3 + Glue + Athena. There are no transactions, so the steps are ordered so that state never runs ahead of data:
 * files are uploaded to a new folder, the Glue table is created or repointed (readers switch at once), Iceberg
 * tables are merged from a staging table (MERGE is idempotent by key), and only then state.json (If-Match) and the
 * run record are written; old files are removed last. A crash at any step leaves readable tables; the next run
 * removes leftover staging tables and files, and re-reads from the last recorded cursor. The dataset (clients, lock,
 * state.json) is athena-connection.ts, the load athena-load.ts (one table: athena-load-table.ts), ingesta's own
 * records athena-history.ts, key reconciliation athena-reconcile.ts.
 */
export class AthenaDestination implements Destination, CapabilityMembers<typeof ATHENA_CAPABILITIES> {
  readonly capabilities = ATHENA_CAPABILITIES;
  private readonly ds: AthenaDataset;
  /** ingesta's own records of the dataset in S3 (athena-history.ts). */
  readonly history: AthenaHistory;
  /** Key reconciliation (see athena-reconcile.ts): the source's keys compared with the Iceberg table's, in Athena. */
  readonly reconciler: KeyReconciler;

  constructor(
    config: AthenaConfig,
    private readonly dataset: string,
    options: { readonly readOnly?: boolean; readonly runId?: string; readonly missingAsEmpty?: boolean; readonly duckdb?: DuckDBSettings } = {},
    clients?: AthenaClients,
  ) {
    this.ds = new AthenaDataset(config, dataset, options, clients);
    this.history = new AthenaHistory(this.ds);
    const ds = this.ds;
    this.reconciler = {
      diffKeys: (request) => diffKeysOnAthena(ds.reconcileContext(), request),
      countAfterMerge: (request) => countAfterMergeOnAthena(ds.reconcileContext(), request),
    };
  }

  /** Every SQL statement sent to Athena so far (for logs and tests). */
  get statements(): readonly string[] {
    return this.ds.athena.statements;
  }

  open(): Promise<void> {
    return this.ds.open();
  }

  async existingTables(): Promise<Set<string>> {
    const tables = await this.ds.glue.listTables(this.dataset).catch(() => []);
    const inGlue = new Set(tables.map((t) => t.Name ?? ''));
    return new Set(Object.keys(this.ds.state.tables).filter((t) => inGlue.has(glueName(t))));
  }

  async describeTable(table: string): Promise<Map<string, string>> {
    return new Map(this.ds.state.tables[table]?.columns ?? []);
  }

  loadPackage(manifest: Manifest, packageDir: string, onTable?: (result: TableLoadResult) => void): Promise<TableLoadResult[]> {
    return loadPackageOnAthena(this.ds, manifest, packageDir, onTable);
  }

  plannedSteps(table: Omit<PackageTable, 'rows' | 'bytes' | 'sourceRowCount'>, runId: string): string[] {
    const { s3, keys } = this.ds;
    const columns = table.columns.map((c) => c.name);
    if (table.writeDisposition !== 'merge') {
      return [
        `write Parquet (zstd) to ${s3.url(keys.dataFolder(table.name, runId))}`,
        `create or repoint the Glue table ${this.dataset}.${glueName(table.name)} to that folder (readers switch at once)`,
        'write state.json (If-Match) and the run record; the previous data folder is deleted by a later run, once superseded for INGESTA_KEEP_SUPERSEDED (1 hour)',
      ];
    }
    const name = glueName(table.name);
    const stage = stagingTableName(name);
    const staged = table.columns.map((c) => stagedFromAthena({ name: c.name, type: athenaColumnType(c.name, c.destinationType, 'iceberg').athenaType }));
    const source = stagingRelation(this.dataset, stage, staged);
    if (table.cdc) {
      // (values an update did not send are read from the Iceberg table inside the MERGE's source: athena-cdc.ts)
      const changes = stagingRelation(this.dataset, stage, [...staged, stagedFromAthena({ name: CDC_OP, type: 'string' })]);
      return [
        `reduce the changes to one row per key (the last change wins; ${CDC_OP} D for a deleted key) and write them as Parquet to ${s3.url(keys.batchFolder(table.name, runId))}`,
        `if the changes hold a TRUNCATE — Athena: ${icebergPruneSql(this.dataset, name, undefined, table.primaryKey)}`,
        `Glue staging table ${this.dataset}.${stage} over the batch`,
        `Athena: ${icebergChangesSql(this.dataset, name, changes, columns, table.primaryKey)}`,
        `drop ${this.dataset}.${stage}; write state.json (If-Match: the new LSN, after the data) and the run record`,
      ];
    }
    return [
      `write the batch as Parquet to ${s3.url(keys.batchFolder(table.name, runId))}`,
      `create the Iceberg table ${this.dataset}.${name} at ${s3.url(keys.icebergFolder(table.name))} if missing`,
      `Glue staging table ${this.dataset}.${stage} over the batch`,
      `Athena: ${icebergMergeSql(this.dataset, name, source, columns, table.primaryKey)}`,
      ...(table.replaceAll ? [`Athena: ${icebergPruneSql(this.dataset, name, source, table.primaryKey)}`] : []),
      `drop ${this.dataset}.${stage}; write state.json (If-Match) and the run record`,
    ];
  }

  qualityTarget(): GateTarget {
    return {
      dialect: athenaDialect((name) => `${quoteIdent(this.dataset)}.${quoteIdent(glueName(name))}`),
      query: async (sql) => {
        const result = await this.ds.athena.query(sql, { signal: this.ds.signal });
        return result.rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c, row[i] ?? null])));
      },
      columnTypes: (table) => this.describeTable(table),
    };
  }

  /** The incremental cursors, from state.json (read when the dataset was opened). */
  async readState(): Promise<Map<string, TableState>> {
    const out = new Map<string, TableState>();
    for (const [table, t] of Object.entries(this.ds.state.tables)) {
      if (t.cursor) out.set(table, { table, cursorColumn: t.cursor.column, cursorValue: t.cursor.value, runId: t.runId });
    }
    return out;
  }

  interrupt(): void {
    this.ds.interrupt();
  }

  close(): Promise<void> {
    return this.ds.close();
  }
}
