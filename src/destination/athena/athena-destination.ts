import { rmSync } from 'node:fs';
import path from 'node:path';
import { AthenaClient } from '@aws-sdk/client-athena';
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import type { AthenaConfig } from '../../config/athena-config.js';
import type { Manifest, PackageTable } from '../../package/load-package.js';
import type { CheckResult } from '../../quality/check-types.js';
import { athenaDialect } from './athena-quality-dialect.js';
import type { GateTarget } from '../../quality/quality-gate.js';
import { versionHash, type DatasetSchemaDoc } from '../../schema/schema-document.js';
import { quoteIdent } from '../../sql/quote.js';
import type { DatasetStatus, Destination, DestinationCapabilities, FailedRunTimes, KeyDiff, KeyDiffRequest, MergeCountRequest, TableLoadResult, TableState } from '../destination.js';
import { DuckDBDestination } from '../duckdb/duckdb-destination.js';
import { AthenaQueryRunner } from './athena-query-runner.js';
import { EMPTY_STATE, datasetKeys, glueName, stagingTableName, type AthenaState, type AthenaTableState, type DatasetKeys } from './athena-state.js';
import { athenaColumnType } from './athena-type-map.js';
import { columnDdl, type IcebergColumnPlan } from './athena-column-policy.js';
import { prepareTable } from './athena-prepare.js';
import { cleanUpLeftovers } from './athena-cleanup.js';
import { applyDeletesOnAthena, countAfterMergeOnAthena, diffKeysOnAthena, type ReconcileContext } from './athena-reconcile.js';
import { GlueCatalog, type GlueColumn } from './glue-catalog.js';
import { S3Store } from './s3-store.js';
import { DestinationError } from '../../errors.js';
import { crashPoint } from '../../faults/crash-points.js';
import { DatasetLock } from './dataset-lock.js';
import type { DuckDBSettings } from '../../config/runtime-settings.js';
import { icebergMergeSql, icebergPruneSql } from './athena-sql.js';
import { stagedFromAthena, stagingRelation } from './athena-staging.js';

export const ATHENA_CAPABILITIES: DestinationCapabilities = Object.freeze({
  transactional: false,
  mergeStrategy: 'merge-into',
  timestampPrecision: 'microsecond',
  caseSensitiveIdentifiers: false,
  lowerCaseIdentifiers: true,
  keyReconciliation: true,
});

/**
 * S3 + Glue + Athena. There are no transactions, so the steps are ordered so that state never runs ahead of data:
 * files are uploaded to a new folder, the Glue table is created or repointed (readers switch at once), Iceberg
 * tables are merged from a staging table (MERGE is idempotent by key), and only then state.json (If-Match) and the
 * run record are written; old files are removed last. A crash at any step leaves readable tables; the next run
 * removes leftover staging tables and files, and re-reads from the last recorded cursor.
 */
export class AthenaDestination implements Destination {
  readonly capabilities = ATHENA_CAPABILITIES;
  private readonly keys: DatasetKeys;
  private readonly s3: S3Store;
  private readonly glue: GlueCatalog;
  private readonly athena: AthenaQueryRunner;
  private state: AthenaState = EMPTY_STATE;
  private stateEtag: string | undefined;
  private readonly lock: DatasetLock;
  private readonly keepSupersededMs: number;
  /** Aborted by interrupt(): running Athena queries are stopped (StopQueryExecution). */
  private readonly abort = new AbortController();

  constructor(
    config: AthenaConfig,
    private readonly dataset: string,
    private readonly options: { readonly readOnly?: boolean; readonly runId?: string; readonly missingAsEmpty?: boolean; readonly duckdb?: DuckDBSettings } = {},
    clients?: { s3?: S3Client; athena?: AthenaClient; glue?: GlueClient },
  ) {
    const region = config.region;
    this.keys = datasetKeys(config.prefix, dataset);
    this.s3 = new S3Store(clients?.s3 ?? new S3Client({ region, forcePathStyle: config.s3PathStyle }), config.bucket);
    this.lock = new DatasetLock(this.s3, this.keys.lock, dataset, config.lockTiming);
    this.keepSupersededMs = config.keepSupersededMs;
    const catalogId = config.dataCatalog === 'AwsDataCatalog' ? undefined : config.dataCatalog;
    this.glue = new GlueCatalog(clients?.glue ?? new GlueClient({ region }), catalogId);
    this.athena = new AthenaQueryRunner(clients?.athena ?? new AthenaClient({ region }), {
      workGroup: config.workGroup,
      catalog: config.dataCatalog,
      outputLocation: config.queryResultLocation,
      database: dataset,
    });
  }

  /** Every SQL statement sent to Athena so far (for logs and tests). */
  get statements(): readonly string[] {
    return this.athena.statements;
  }

  async open(): Promise<void> {
    if (!this.options.readOnly) await this.lock.take(this.options.runId);
    const read = await this.s3.getJson<AthenaState>(this.keys.state);
    this.state = read?.value ?? EMPTY_STATE;
    this.stateEtag = read?.etag;
  }

  async readState(): Promise<Map<string, TableState>> {
    const out = new Map<string, TableState>();
    for (const [table, t] of Object.entries(this.state.tables)) {
      if (t.cursor) out.set(table, { table, cursorColumn: t.cursor.column, cursorValue: t.cursor.value, runId: t.runId });
    }
    return out;
  }

  async existingTables(): Promise<Set<string>> {
    const tables = await this.glue.listTables(this.dataset).catch(() => []);
    const inGlue = new Set(tables.map((t) => t.Name ?? ''));
    return new Set(Object.keys(this.state.tables).filter((t) => inGlue.has(glueName(t))));
  }

  async describeTable(table: string): Promise<Map<string, string>> {
    return new Map(this.state.tables[table]?.columns ?? []);
  }

  async isRunLoaded(runId: string): Promise<boolean> {
    const record = await this.s3.getJson<{ status: string }>(this.keys.run(runId));
    return record?.value.status === 'loaded';
  }

  /** Removes what earlier runs left (see athena-cleanup.ts): never a folder a Glue table may read. */
  private cleanUp(currentRun: string): Promise<string[]> {
    return cleanUpLeftovers({
      dataset: this.dataset, keys: this.keys, state: this.state, glue: this.glue, s3: this.s3, currentRun,
      keepSupersededMs: this.keepSupersededMs, fence: (step) => this.fence(step),
    });
  }

  /** Before every step that changes data, tables or state: the lock is read again and must still be this run's. */
  private fence(step: string): Promise<void> {
    return this.lock.check(step);
  }

  async loadPackage(manifest: Manifest, packageDir: string, onTable?: (result: TableLoadResult) => void): Promise<TableLoadResult[]> {
    // the package is typed and measured by the DuckDB loader in a scratch file, then written out as Parquet
    const scratchFile = path.join(packageDir, 'scratch.duckdb');
    const scratch = new DuckDBDestination(scratchFile, 'scratch', { settings: this.options.duckdb });
    await scratch.open();
    const results: TableLoadResult[] = [];
    const tables: Record<string, AthenaTableState> = { ...this.state.tables };
    try {
      const asBatches: Manifest = {
        ...manifest,
        tables: manifest.tables.map((t) => ({ ...t, replaceAll: true, dropRemovedColumns: true, unnest: [], schemaContract: 'evolve', cursor: undefined, reconcile: undefined })),
      };
      const typed = await scratch.loadPackage(asBatches, packageDir);
      // first every table's file is written and checked against its table: a value that does not fit an Iceberg
      // column stops the run here, before anything is written
      const prepared = [];
      for (const table of manifest.tables) prepared.push(await prepareTable(this.glue, this.dataset, scratch, table, packageDir));
      const cleanup = await this.cleanUp(manifest.runId);
      await this.fence('creating the Glue database');
      await this.glue.ensureDatabase(this.dataset, 'raw layer loaded by ingesta');
      for (const [i, { table, file, columns, plan }] of prepared.entries()) {
        const next = plan
          ? await this.mergeIceberg(manifest, table, file, plan, table.reconcile?.deletesFile ? path.join(packageDir, table.reconcile.deletesFile) : undefined)
          : await this.replaceParquet(manifest, table, file, columns.map(([name, type]) => ({ name, type: athenaColumnType(name, type).athenaType })));
        tables[table.name] = {
          kind: next.kind,
          location: next.location,
          columns,
          primaryKey: table.primaryKey,
          source: `${table.sourceSchema}.${table.sourceName}`,
          writeDisposition: table.writeDisposition,
          cursor: table.cursor ? { column: table.cursor.column, type: table.cursor.columnType, value: table.cursor.next ?? table.cursor.previous } : undefined,
          runId: manifest.runId,
          snapshotAt: manifest.snapshotAt,
          rows: table.rows,
          sources: Object.fromEntries(table.columns.map((c) => [c.name, { name: c.sourceName, type: c.sourceType }])),
        };
        const notes = [
          ...typed[i]!.notes,
          ...(i === 0 ? cleanup : []),
          ...(plan?.rebuild ? [`rebuilt the Iceberg table with this load's column types (a value did not fit the old ones)`] : []),
          ...(table.unnest.length > 0 ? [`unnest (${table.unnest.join(', ')}) is not applied in dev/prod yet: the column stays JSON/array`] : []),
        ];
        results.push({ table: table.name, mode: table.replaceAll ? 'full' : 'incremental', rowsLoaded: table.rows, rowsInDestination: next.rows ?? table.rows, notes });
      }
    } finally {
      await scratch.close();
      rmSync(scratchFile, { force: true });
      rmSync(`${scratchFile}.wal`, { force: true });
    }
    // the data is in place: now, and only now, the state and the run record
    crashPoint('before-commit');
    this.assertLockHeld();
    await this.fence('writing state.json');
    const state: AthenaState = { version: 1, tables };
    this.stateEtag = await this.s3.putJson(this.keys.state, state, this.stateEtag ? { etag: this.stateEtag } : 'absent');
    this.state = state;
    await this.fence('writing the run record');
    await this.s3.putJson(this.keys.run(manifest.runId), {
      run_id: manifest.runId, env: manifest.env, status: 'loaded', snapshot_at: manifest.snapshotAt, started_at: manifest.createdAt,
      finished_at: new Date().toISOString(), tables: results.map((r) => ({ table: r.table, mode: r.mode, rows: r.rowsLoaded })),
    });
    // the previous data folders of full tables stay: a later run's clean-up removes them once superseded long enough
    crashPoint('after-commit');
    for (const r of results) onTable?.(r);
    return results;
  }

  /** Before each table is published, and before the state: a run whose lock was taken over stops there. */
  private assertLockHeld(): void {
    if (!this.lock.lost) return;
    throw new DestinationError(
      `This run lost its lock on ${this.dataset} (${this.lock.lost}): another run took it over, so this one publishes nothing more and writes ` +
        'no state (tables it already published stay readable; the other run, or the next one, brings them in line). Run again once the other has finished.',
    );
  }

  /** Full table: new files in a new folder, then the Glue table is created or repointed there (atomic for readers). */
  private async replaceParquet(manifest: Manifest, table: PackageTable, file: string, columns: GlueColumn[]) {
    const folder = this.keys.dataFolder(table.name, manifest.runId);
    this.assertLockHeld();
    await this.fence(`uploading ${this.s3.url(folder)}`);
    await this.s3.uploadFile(`${folder}part-00000.zstd.parquet`, file);
    const location = this.s3.url(folder);
    await this.fence(`repointing the Glue table ${this.dataset}.${glueName(table.name)}`);
    await this.glue.putParquetTable(this.dataset, glueName(table.name), columns, location, { ingesta_run_id: manifest.runId });
    return { kind: 'parquet' as const, location, rows: table.rows };
  }

  /**
   * Incremental table: an Iceberg table updated by MERGE INTO from a staging table over this batch's files (kept under
   * batches/<run>/ afterwards). A full load merges everything, then deletes the keys the batch does not have (each
   * statement is atomic in Iceberg). Each step is fenced by the lock (see fence()).
   */
  private async mergeIceberg(manifest: Manifest, table: PackageTable, file: string, plan: IcebergColumnPlan & { exists: boolean; rebuild: boolean }, deletesFile?: string) {
    const glue = glueName(table.name);
    const name = `${this.dataset}.${glue}`;
    const location = this.s3.url(this.keys.icebergFolder(table.name));
    this.assertLockHeld();
    if (plan.rebuild) {
      await this.fence(`dropping the Iceberg table ${name} to rebuild it`);
      await this.glue.deleteTable(this.dataset, glue);
      await this.s3.deletePrefix(this.keys.icebergFolder(table.name));
    }
    if (!plan.exists || plan.rebuild) {
      await this.fence(`creating the Iceberg table ${name}`);
      await this.glue.createIcebergTable(this.dataset, glue, plan.columns, location);
    } else {
      for (const ddl of columnDdl(glue, plan)) {
        await this.fence(`changing the columns of ${name}`);
        await this.athena.execute(ddl, { signal: this.abort.signal });
      }
    }
    const folder = this.keys.batchFolder(table.name, manifest.runId);
    const stage = stagingTableName(glue);
    // the batch's timestamps are staged as exact text and read back as timestamp(6) (athena-staging.ts)
    const staged = plan.columns.map(stagedFromAthena);
    const source = stagingRelation(this.dataset, stage, staged);
    const columns = plan.columns.map((c) => c.name);
    if (table.rows > 0) {
      await this.fence(`uploading ${this.s3.url(folder)}`);
      await this.s3.uploadFile(`${folder}part-00000.zstd.parquet`, file);
      await this.fence(`creating the staging table ${this.dataset}.${stage}`);
      await this.glue.putParquetTable(this.dataset, stage, staged.map((c) => ({ name: c.name, type: c.stageType })), this.s3.url(folder), { ingesta_run_id: manifest.runId });
      await this.fence(`the MERGE into ${name}`);
      await this.athena.execute(icebergMergeSql(this.dataset, glue, source, columns, table.primaryKey), { signal: this.abort.signal });
    }
    if (table.replaceAll) {
      await this.fence(`pruning ${name}`);
      await this.athena.execute(icebergPruneSql(this.dataset, glue, table.rows > 0 ? source : undefined, table.primaryKey), { signal: this.abort.signal });
    }
    // reconciliation: the keys the source no longer has, after the merge
    if (deletesFile) await applyDeletesOnAthena(this.reconcileContext(manifest.runId), table.name, table.primaryKey, deletesFile);
    // the batch's files stay: the record of what this run merged (and a way to replay it)
    if (table.rows > 0) {
      await this.fence(`dropping the staging table ${this.dataset}.${stage}`);
      await this.glue.deleteTable(this.dataset, stage);
    }
    return { kind: 'iceberg' as const, location, rows: undefined };
  }

  private reconcileContext(runId = this.options.runId ?? 'adhoc'): ReconcileContext {
    return { dataset: this.dataset, keys: this.keys, s3: this.s3, glue: this.glue, athena: this.athena, signal: this.abort.signal, runId, fence: (step) => this.fence(step) };
  }

  /** Key reconciliation (see athena-reconcile.ts): the source's keys compared with the Iceberg table's, in Athena. */
  diffKeys(request: KeyDiffRequest): Promise<KeyDiff> {
    return diffKeysOnAthena(this.reconcileContext(), request);
  }

  countAfterMerge(request: MergeCountRequest): Promise<number | undefined> {
    return countAfterMergeOnAthena(this.reconcileContext(), request);
  }

  plannedSteps(table: Omit<PackageTable, 'rows' | 'bytes' | 'sourceRowCount'>, runId: string): string[] {
    const columns = table.columns.map((c) => c.name);
    if (table.writeDisposition !== 'merge') {
      return [
        `write Parquet (zstd) to ${this.s3.url(this.keys.dataFolder(table.name, runId))}`,
        `create or repoint the Glue table ${this.dataset}.${glueName(table.name)} to that folder (readers switch at once)`,
        'write state.json (If-Match) and the run record; the previous data folder is deleted by a later run, once superseded for INGESTA_KEEP_SUPERSEDED (1 hour)',
      ];
    }
    const name = glueName(table.name);
    const stage = stagingTableName(name);
    const source = stagingRelation(this.dataset, stage, table.columns.map((c) => stagedFromAthena({ name: c.name, type: athenaColumnType(c.name, c.destinationType, 'iceberg').athenaType })));
    return [
      `write the batch as Parquet to ${this.s3.url(this.keys.batchFolder(table.name, runId))}`,
      `create the Iceberg table ${this.dataset}.${name} at ${this.s3.url(this.keys.icebergFolder(table.name))} if missing`,
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
        const result = await this.athena.query(sql, { signal: this.abort.signal });
        return result.rows.map((row) => Object.fromEntries(result.columns.map((c, i) => [c, row[i] ?? null])));
      },
      columnTypes: (table) => this.describeTable(table),
    };
  }

  async status(runs: number): Promise<DatasetStatus> {
    const tables = Object.entries(this.state.tables)
      .map(([table, t]) => ({
        table, lastRunId: t.runId, lastLoadedAt: t.snapshotAt ?? null, mode: t.kind === 'iceberg' ? 'merge' : 'replace', rowsLoaded: t.rows,
        rowsInDestination: null, cursorColumn: t.cursor?.column ?? null, cursorValue: t.cursor?.value ?? null,
      }))
      .sort((a, b) => a.table.localeCompare(b.table));
    const keys = (await this.s3.list(`${this.keys.base}/_ingesta/runs/`)).map((o) => o.Key!).sort().reverse().slice(0, Math.max(1, runs));
    const history = [];
    for (const key of keys) {
      const r = (await this.s3.getJson<{ run_id: string; status: string; finished_at?: string; tables?: (string | { table: string })[]; message?: string }>(key))?.value;
      if (!r) continue;
      history.push({
        runId: r.run_id, status: r.status, finishedAt: r.finished_at ?? null,
        tables: (r.tables ?? []).map((t) => (typeof t === 'string' ? t : t.table)), message: r.message ?? null,
      });
    }
    return { tables, runs: history };
  }

  async resetState(tables: readonly string[]): Promise<string[]> {
    const reset = tables.filter((t) => this.state.tables[t]?.cursor);
    if (reset.length === 0) return [];
    const next: AthenaState = {
      version: 1,
      tables: Object.fromEntries(Object.entries(this.state.tables).map(([name, t]) => [name, reset.includes(name) ? { ...t, cursor: undefined } : t])),
    };
    await this.fence('writing state.json');
    this.stateEtag = await this.s3.putJson(this.keys.state, next, this.stateEtag ? { etag: this.stateEtag } : 'absent');
    this.state = next;
    return reset;
  }

  async lastLoadedSnapshots(): Promise<Map<string, string>> {
    return new Map(Object.entries(this.state.tables).flatMap(([t, s]) => (s.snapshotAt ? [[t, s.snapshotAt] as [string, string]] : [])));
  }

  async storeQualityResults(runId: string, env: string, results: readonly CheckResult[]): Promise<void> {
    await this.s3.putJson(this.keys.quality(runId), { run_id: runId, env, dataset: this.dataset, checks: results });
  }

  async schemaDocument(): Promise<DatasetSchemaDoc> {
    const tables = Object.fromEntries(
      Object.entries(this.state.tables).map(([name, t]) => {
        const doc = {
          table: name,
          source: t.source,
          write_disposition: t.writeDisposition,
          primary_key: [...t.primaryKey],
          columns: t.columns.map(([c, type]) => ({ name: c, type: athenaColumnType(c, type, t.kind).athenaType, source_name: t.sources[c]?.name ?? null, source_type: t.sources[c]?.type ?? null })),
        };
        return [name, { ...doc, version_hash: versionHash(doc), run_id: t.runId }];
      }),
    );
    return { dataset: this.dataset, version_hash: versionHash(Object.values(tables).map((t) => [t.table, t.version_hash])), tables };
  }

  async recordFailure(runId: string, env: string, tables: readonly string[], message: string, times: FailedRunTimes): Promise<void> {
    await this.s3
      .putJson(this.keys.run(runId), {
        run_id: runId, env, status: 'failed', snapshot_at: times.snapshotAt ?? null, started_at: times.startedAt,
        finished_at: new Date().toISOString(), tables, message: message.slice(0, 2000),
      })
      .catch(() => undefined);
  }

  interrupt(): void {
    this.abort.abort();
  }

  async close(): Promise<void> {
    await this.lock.release();
  }
}
