import type { CheckResult } from '../quality/check-types.js';
import type { GateSummary } from '../quality/gate-summary.js';
import type { QualityHistory } from '../quality/report-history.js';
import type { DatasetSchemaDoc } from '../schema/schema-document.js';

/** `ingesta status`: what the destination knows of each table and of the last runs. */
export interface TableStatus {
  readonly table: string;
  readonly lastRunId: string | null;
  readonly lastLoadedAt: string | null;
  readonly mode: string | null;
  readonly rowsLoaded: number | null;
  readonly rowsInDestination: number | null;
  readonly cursorColumn: string | null;
  readonly cursorValue: string | null;
  /** The last gate run that checked this table; null if none did. */
  readonly gate: GateSummary | null;
}

export interface RunStatus {
  readonly runId: string;
  readonly status: string;
  readonly finishedAt: string | null;
  readonly tables: readonly string[];
  readonly message: string | null;
  /** The gate run after this load; null without one (no --validar-calidad-datos, or a failed load). */
  readonly gate: GateSummary | null;
}

export interface DatasetStatus {
  readonly tables: readonly TableStatus[];
  readonly runs: readonly RunStatus[];
}

/** When a failed run started, and the source snapshot it read (PostgreSQL text, UTC; undefined if none was taken). */
export interface FailedRunTimes {
  readonly startedAt: string;
  readonly snapshotAt: string | undefined;
}

/**
 * The dataset's history, kept by every destination beside the data (DuckDB: ingesta's own tables; Athena: JSON in
 * S3): runs, status, resets, quality results, the last loaded snapshots, schema versions, failure records. Reached
 * as `destination.history`; usable once the destination is open.
 */
export interface DatasetHistory {
  /** Whether the run with this id has already been committed (used to recover leftover packages). */
  isRunLoaded(runId: string): Promise<boolean>;
  /** Per table, the last successful load and the cursor; the last `runs` runs, newest first. */
  status(runs: number): Promise<DatasetStatus>;
  /** Forgets the incremental cursors of these tables, so their next run is a full load. Returns the tables reset. */
  resetState(tables: readonly string[]): Promise<string[]>;
  /** Per table, the source snapshot time (PostgreSQL text, UTC) of its last successful load. */
  lastLoadedSnapshots(): Promise<Map<string, string>>;
  /** Stores the gate's results for history (not called in validate-only mode, which is read-only). */
  storeQualityResults(runId: string, env: string, results: readonly CheckResult[]): Promise<void>;
  /** The last `runs` runs with their per-table loads and stored gate results, oldest first (the report's history). */
  qualityHistory(runs: number): Promise<QualityHistory>;
  /** The latest schema version of every table of the dataset (for the schema export). */
  schemaDocument(): Promise<DatasetSchemaDoc>;
  /** Best-effort record of a failed run (outside the data transaction, which was rolled back). */
  recordFailure(runId: string, env: string, tables: readonly string[], message: string, times: FailedRunTimes): Promise<void>;
}
