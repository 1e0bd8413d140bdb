import type { CheckResult, CheckStatus } from '../../quality/check-types.js';
import type { HistoryRun, QualityHistory } from '../../quality/report-history.js';
import { gateSummaries, type StoredCheck } from '../../quality/gate-summary.js';
import { versionHash, type DatasetSchemaDoc, type TableSchemaDoc } from '../../schema/schema-document.js';
import type { DatasetHistory, DatasetStatus, FailedRunTimes } from '../dataset-history.js';
import { DestinationError, messageOf } from '../../errors.js';
import { LOADS_TABLE, QUALITY_TABLE, RUNS_TABLE, SCHEMA_TABLE, STATE_TABLE, metadataDdl, type DatasetRef } from './duckdb-sql.js';

type Value = string | number | bigint | boolean | null;

/** What the history needs from the open DuckDB destination. */
export interface DuckDBAccess {
  query(sql: string, values?: Value[]): Promise<Record<string, unknown>[]>;
  run(sql: string, values?: Value[]): Promise<void>;
  ref(): DatasetRef;
  tableExists(table: string): Promise<boolean>;
  readonly dataset: string;
  /** The DuckDB file, for messages. */
  readonly label: string;
  /** Whether a connection is open. */
  open(): boolean;
}

/**
 * ingesta's own tables in a DuckDB dataset — incremental state, run history, per-table load records, quality
 * results, schema versions — read for status, recovery and the gate, written outside the data transaction only for
 * quality results, failures and resets.
 */
export class DuckDBHistory implements DatasetHistory {
  constructor(private readonly db: DuckDBAccess) {}

  async isRunLoaded(runId: string): Promise<boolean> {
    if (!(await this.db.tableExists(RUNS_TABLE))) return false;
    const rows = await this.db.query(`SELECT 1 FROM ${this.db.ref().table(RUNS_TABLE)} WHERE run_id = $1 AND status = 'loaded'`, [runId]);
    return rows.length > 0;
  }

  async schemaDocument(): Promise<DatasetSchemaDoc> {
    const rows = (await this.db.tableExists(SCHEMA_TABLE))
      ? await this.db.query(
          `SELECT table_name, version_hash, CAST(schema AS VARCHAR) AS schema, run_id FROM ${this.db.ref().table(SCHEMA_TABLE)}
           QUALIFY row_number() OVER (PARTITION BY table_name ORDER BY recorded_at DESC) = 1 ORDER BY table_name`,
        )
      : [];
    const tables = Object.fromEntries(
      rows.map((r) => [String(r.table_name), { ...(JSON.parse(String(r.schema)) as TableSchemaDoc), version_hash: String(r.version_hash), run_id: String(r.run_id) }]),
    );
    return { dataset: this.db.dataset, version_hash: versionHash(rows.map((r) => [r.table_name, r.version_hash])), tables };
  }

  async status(runs: number): Promise<DatasetStatus> {
    if (!(await this.db.tableExists(RUNS_TABLE))) return { tables: [], runs: [] };
    const tables = await this.db.query(
      `SELECT l.table_name, l.run_id, CAST(l.loaded_at AS VARCHAR) AS loaded_at, l.mode, l.rows_loaded, l.rows_in_destination,
              s.cursor_column, s.cursor_value
       FROM (SELECT l.* FROM ${this.db.ref().table(LOADS_TABLE)} l JOIN ${this.db.ref().table(RUNS_TABLE)} r ON r.run_id = l.run_id AND r.status = 'loaded'
             QUALIFY row_number() OVER (PARTITION BY l.table_name ORDER BY l.loaded_at DESC) = 1) l
       LEFT JOIN ${this.db.ref().table(STATE_TABLE)} s ON s.table_name = l.table_name ORDER BY l.table_name`,
    );
    const history = await this.db.query(
      `SELECT run_id, status, CAST(finished_at AS VARCHAR) AS finished_at, tables, message FROM ${this.db.ref().table(RUNS_TABLE)} ORDER BY run_id DESC LIMIT ${Math.max(1, Math.floor(runs))}`,
    );
    const str = (v: unknown) => (v == null ? null : String(v));
    const num = (v: unknown) => (v == null ? null : Number(v));
    const gates = gateSummaries(await this.gateChecks(history.map((r) => String(r.run_id))));
    return {
      tables: tables.map((r) => ({
        table: String(r.table_name), lastRunId: str(r.run_id), lastLoadedAt: str(r.loaded_at), mode: str(r.mode),
        rowsLoaded: num(r.rows_loaded), rowsInDestination: num(r.rows_in_destination), cursorColumn: str(r.cursor_column), cursorValue: str(r.cursor_value),
        gate: gates.byTable.get(String(r.table_name)) ?? null,
      })),
      runs: history.map((r) => ({
        runId: String(r.run_id), status: String(r.status), finishedAt: str(r.finished_at),
        tables: Array.isArray(r.tables) ? (r.tables as unknown[]).map(String) : [], message: str(r.message),
        gate: gates.byRun.get(String(r.run_id)) ?? null,
      })),
    };
  }

  /**
   * The last `runs` runs (of the run records and the stored gate results) with their loads and check results, for the
   * report's history; empty on a dataset without ingesta's tables.
   */
  async qualityHistory(runs: number): Promise<QualityHistory> {
    const [hasRuns, hasLoads, hasQuality] = [await this.db.tableExists(RUNS_TABLE), await this.db.tableExists(LOADS_TABLE), await this.db.tableExists(QUALITY_TABLE)];
    if (!hasRuns && !hasQuality) return { runs: [], checks: [] };
    const t = (name: string) => this.db.ref().table(name);
    const ids = [...(hasRuns ? [`SELECT run_id FROM ${t(RUNS_TABLE)}`] : []), ...(hasQuality ? [`SELECT run_id FROM ${t(QUALITY_TABLE)}`] : [])].join(' UNION ');
    const last = `SELECT run_id FROM (${ids}) GROUP BY run_id ORDER BY run_id DESC LIMIT ${Math.max(1, Math.floor(runs))}`;
    const runRows = await this.db.query(
      hasRuns
        ? `SELECT i.run_id, r.status, CAST(coalesce(r.finished_at, q.checked_at) AS VARCHAR) AS finished_at FROM (${last}) i
           LEFT JOIN ${t(RUNS_TABLE)} r ON r.run_id = i.run_id
           LEFT JOIN (${hasQuality ? `SELECT run_id, max(checked_at) AS checked_at FROM ${t(QUALITY_TABLE)} GROUP BY run_id` : 'SELECT NULL AS run_id, NULL AS checked_at'}) q ON q.run_id = i.run_id
           ORDER BY i.run_id`
        : `SELECT run_id, NULL AS status, CAST(max(checked_at) AS VARCHAR) AS finished_at FROM ${t(QUALITY_TABLE)} WHERE run_id IN (${last}) GROUP BY run_id ORDER BY run_id`,
    );
    const loads = hasLoads
      ? await this.db.query(`SELECT run_id, table_name, rows_loaded, rows_in_destination FROM ${t(LOADS_TABLE)} WHERE run_id IN (${last})`)
      : [];
    const checks = hasQuality
      ? await this.db.query(
          `SELECT run_id, check_name, table_name, status, observed, CAST(details AS VARCHAR) AS details FROM ${t(QUALITY_TABLE)} WHERE run_id IN (${last}) ORDER BY run_id, checked_at`,
        )
      : [];
    const num = (v: unknown) => (v == null ? null : Number(v));
    return {
      runs: runRows.map((r): HistoryRun => ({
        runId: String(r.run_id), status: r.status == null ? 'checked' : String(r.status), finishedAt: r.finished_at == null ? null : String(r.finished_at),
        tables: loads.filter((l) => l.run_id === r.run_id).map((l) => ({ table: String(l.table_name), rowsLoaded: num(l.rows_loaded), rowsInDestination: num(l.rows_in_destination) })),
      })),
      checks: checks.map((c) => ({
        runId: String(c.run_id), check: String(c.check_name), table: String(c.table_name), status: String(c.status) as CheckStatus,
        observed: c.observed == null ? null : String(c.observed), details: c.details == null ? null : (JSON.parse(String(c.details)) as Record<string, unknown>),
      })),
    };
  }

  /** The stored checks of these runs and of each table's newest gate run (for status). */
  private async gateChecks(runIds: readonly string[]): Promise<StoredCheck[]> {
    if (!(await this.db.tableExists(QUALITY_TABLE))) return [];
    const q = this.db.ref().table(QUALITY_TABLE);
    const rows = await this.db.query(
      `SELECT run_id, check_name, table_name, status, CAST(checked_at AS VARCHAR) AS checked_at FROM ${q}
       WHERE run_id IN (SELECT unnest($1::VARCHAR[])) OR run_id IN (SELECT max(run_id) FROM ${q} GROUP BY table_name)`,
      [`[${runIds.map((r) => JSON.stringify(r)).join(',')}]`],
    );
    return rows.map((r) => ({
      runId: String(r.run_id), check: String(r.check_name), table: String(r.table_name), status: String(r.status), checkedAt: r.checked_at == null ? null : String(r.checked_at),
    }));
  }

  async resetState(tables: readonly string[]): Promise<string[]> {
    if (!(await this.db.tableExists(STATE_TABLE))) return [];
    const rows = await this.db.query(`SELECT table_name FROM ${this.db.ref().table(STATE_TABLE)}`);
    const known = new Set(rows.map((r) => String(r.table_name)));
    const reset = tables.filter((t) => known.has(t));
    for (const t of reset) await this.db.run(`DELETE FROM ${this.db.ref().table(STATE_TABLE)} WHERE table_name = $1`, [t]);
    return reset;
  }

  async lastLoadedSnapshots(): Promise<Map<string, string>> {
    if (!(await this.db.tableExists(LOADS_TABLE)) || !(await this.db.tableExists(RUNS_TABLE))) return new Map();
    const rows = await this.db.query(
      `SELECT l.table_name, CAST(max(r.snapshot_at) AS VARCHAR) AS snapshot_at FROM ${this.db.ref().table(LOADS_TABLE)} l
       JOIN ${this.db.ref().table(RUNS_TABLE)} r ON r.run_id = l.run_id AND r.status = 'loaded' GROUP BY l.table_name`,
    );
    return new Map(rows.filter((r) => r.snapshot_at != null).map((r) => [String(r.table_name), String(r.snapshot_at)]));
  }

  async storeQualityResults(runId: string, env: string, results: readonly CheckResult[]): Promise<void> {
    await this.db.run('BEGIN TRANSACTION');
    try {
      for (const sql of metadataDdl(this.db.ref())) await this.db.run(sql);
      for (const r of results) {
        await this.db.run(`INSERT INTO ${this.db.ref().table(QUALITY_TABLE)} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::JSON, now())`, [
          runId, env, r.check, r.table, r.status,
          r.observed === null ? null : String(r.observed), r.expected === null ? null : String(r.expected), r.message,
          r.details ? JSON.stringify(r.details) : null,
        ] as never);
      }
      await this.db.run('COMMIT');
    } catch (cause) {
      await this.db.run('ROLLBACK').catch(() => undefined);
      throw new DestinationError(`Storing the quality results in ${this.db.label} failed: ${messageOf(cause)}`, { cause });
    }
  }

  async recordFailure(runId: string, env: string, tables: readonly string[], message: string, times: FailedRunTimes): Promise<void> {
    // only where ingesta already keeps its history: a failed first run must not create the dataset
    if (!this.db.open() || !(await this.db.tableExists(RUNS_TABLE).catch(() => false))) return;
    try {
      await this.db.run(`INSERT INTO ${this.db.ref().table(RUNS_TABLE)} VALUES ($1, $2, 'failed', $3::VARCHAR[], $5::TIMESTAMPTZ, $6::TIMESTAMPTZ, now(), $4)`, [
        runId, env, `[${tables.map((t) => JSON.stringify(t)).join(',')}]`, message.slice(0, 2000), times.snapshotAt ?? null, times.startedAt,
      ] as never);
    } catch {
      // best effort: the failure is reported on stderr and by the exit code anyway
    }
  }
}
