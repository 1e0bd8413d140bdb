import type { Manifest, PackageTable } from '../package/load-package.js';
import type { CheckResult } from '../quality/check-types.js';
import type { GateTarget } from '../quality/quality-gate.js';
import type { DatasetSchemaDoc } from '../schema/schema-document.js';
import type { ColumnMapping } from '../source/postgres/postgres-type-map.js';

/** What a destination can do; the pipeline branches on these, never on a destination's name. */
export interface DestinationCapabilities {
  /** Data, incremental state and load record commit together in one transaction. */
  readonly transactional: boolean;
  /** How rows are merged by primary key. */
  readonly mergeStrategy: 'delete-insert' | 'merge-into';
  /** Finest timestamp precision the destination keeps. */
  readonly timestampPrecision: 'microsecond' | 'millisecond';
  /** Whether "Name" and "name" can be two different columns. */
  readonly caseSensitiveIdentifiers: boolean;
  /** Whether every name is stored in lower case (Athena/Glue). */
  readonly lowerCaseIdentifiers: boolean;
  /** Whether the destination can compare the source's keys with its own (--reconcile: late commits, hard deletes). */
  readonly keyReconciliation: boolean;
  /** Whether a column new in the source is filled into the older rows of a merge table (PackageTable.backfill). */
  readonly columnBackfill?: boolean;
  /** Whether a package table's CDC change file (PackageTable.cdc) can be applied (pipeline/cdc-stage.ts). */
  readonly changeDataCapture?: boolean;
}

/** What a destination is asked to compare for key reconciliation (see pipeline/reconcile.ts). */
export interface KeyDiffRequest {
  readonly table: string;
  /** The primary key's columns and the cursor column, as mapped (destination names, CSV types). */
  readonly keyColumns: readonly ColumnMapping[];
  readonly cursorColumn: ColumnMapping;
  /** CSV of every source key with its cursor value (the key columns, then the cursor unless it is a key column). */
  readonly keysFile: string;
  readonly keyRows: number;
  /** The incremental read's lower bound (PostgreSQL text of the cursor's type); null when it read from the start. */
  readonly lowerBound: string | null;
  /** Where to write the keys the destination holds but the source no longer has (CSV, destination types). */
  readonly deletesFile: string;
}

export interface KeyDiff {
  /** Source keys (PostgreSQL text, in key column order) the destination lacks or holds with another cursor value. */
  readonly refetch: readonly (readonly string[])[];
  /** Keys written to the deletes file. */
  readonly deleted: number;
}

/** What the destination is asked to predict for the automatic reconciliation (see pipeline/reconcile.ts). */
export interface MergeCountRequest {
  readonly table: string;
  readonly keyColumns: readonly ColumnMapping[];
  /** Every column of the batch file, in order. */
  readonly columns: readonly ColumnMapping[];
  readonly batchFile: string;
  readonly batchRows: number;
}

/** Compares the source's keys with the destination's committed rows. */
export interface KeyReconciler {
  diffKeys(request: KeyDiffRequest): Promise<KeyDiff>;
  /** Rows the table would hold after merging the batch (its rows + the batch's keys it lacks); undefined if unknown. */
  countAfterMerge(request: MergeCountRequest): Promise<number | undefined>;
}

/** The incremental cursor stored for one table, as PostgreSQL text. */
export interface TableState {
  readonly table: string;
  readonly cursorColumn: string;
  readonly cursorValue: string | null;
  readonly runId: string;
}

/** What loading one table of a package did. */
export interface TableLoadResult {
  readonly table: string;
  readonly mode: 'full' | 'incremental';
  readonly rowsLoaded: number;
  /** Rows in the destination table after the load. */
  readonly rowsInDestination: number;
  /** Decisions the load took on its own that a person should know (e.g. a lossless type fallback). */
  readonly notes: readonly string[];
}

/** A load transaction opened before extraction ends, filled table by table (see Destination.beginLoad). */
export interface LoadSession {
  /** Loads one extracted table inside the open transaction; after a failure, later calls do nothing. */
  loadTable(table: PackageTable): Promise<void>;
  /** Writes the load record and commits (or, if a table needs an adjustment, loads the whole package again). */
  commit(manifest: Manifest, onTable?: (result: TableLoadResult) => void): Promise<TableLoadResult[]>;
  /** Rolls back: nothing of the session becomes visible. */
  abort(): Promise<void>;
}

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
}

export interface RunStatus {
  readonly runId: string;
  readonly status: string;
  readonly finishedAt: string | null;
  readonly tables: readonly string[];
  readonly message: string | null;
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

/** A row of the destination's run history. */
export interface RunRecord {
  readonly runId: string;
  readonly status: 'loaded' | 'failed';
}

/**
 * A place ingesta loads into. One instance serves one run against one dataset; `open` takes whatever
 * exclusivity the destination offers (DuckDB: the file lock), so two runs never interleave. Opened read-only
 * (validate-only), it changes nothing and lets other readers in.
 */
export interface Destination {
  readonly capabilities: DestinationCapabilities;
  /** Opens the destination and takes the run's lock; fails with a clear DestinationError when another run holds it. */
  open(): Promise<void>;
  /** Incremental cursors by table name (empty on a new dataset). */
  readState(): Promise<Map<string, TableState>>;
  /** Column name → destination type of a dataset table, in column order; empty when the table does not exist. */
  describeTable(table: string): Promise<Map<string, string>>;
  /** Names of the tables the dataset holds now (a merge table missing here is loaded in full). */
  existingTables(): Promise<Set<string>>;
  /** Whether the run with this id has already been committed (used to recover leftover packages). */
  isRunLoaded(runId: string): Promise<boolean>;
  /**
   * Loads every table of an extracted package, then advances the cursors and writes the load record. On a
   * transactional destination all of it commits at once or not at all.
   */
  loadPackage(manifest: Manifest, packageDir: string, onTable?: (result: TableLoadResult) => void): Promise<TableLoadResult[]>;
  /** Where the quality gate runs its SQL (the destination's dialect and tables). */
  qualityTarget(): GateTarget;
  /** Per table, the source snapshot time (PostgreSQL text, UTC) of its last successful load. */
  lastLoadedSnapshots(): Promise<Map<string, string>>;
  /** Stores the gate's results for history (not called in validate-only mode, which is read-only). */
  storeQualityResults(runId: string, env: string, results: readonly CheckResult[]): Promise<void>;
  /** What loading this table would do, in order, for --dry-run (no call is made). */
  plannedSteps(table: Omit<PackageTable, 'rows' | 'bytes' | 'sourceRowCount'>, runId: string): string[];
  /** The latest schema version of every table of the dataset (for the schema export). */
  schemaDocument(): Promise<DatasetSchemaDoc>;
  /** Per table, the last successful load and the cursor; the last `runs` runs, newest first. */
  status(runs: number): Promise<DatasetStatus>;
  /** Forgets the incremental cursors of these tables, so their next run is a full load. Returns the tables reset. */
  resetState(tables: readonly string[]): Promise<string[]>;
  /**
   * Transactional destinations only: opens the load transaction before extraction ends, so each table is loaded as
   * soon as its file is complete, overlapping extraction and loading.
   */
  beginLoad?(manifest: Pick<Manifest, 'runId'>, packageDir: string): Promise<LoadSession>;
  /** Destinations with the keyReconciliation capability: see KeyReconciler. */
  diffKeys?(request: KeyDiffRequest): Promise<KeyDiff>;
  countAfterMerge?(request: MergeCountRequest): Promise<number | undefined>;
  /** Best-effort record of a failed run (outside the data transaction, which was rolled back). */
  recordFailure(runId: string, env: string, tables: readonly string[], message: string, times: FailedRunTimes): Promise<void>;
  /** Cancels what is running now (SIGTERM): the awaited call fails, and nothing uncommitted becomes visible. */
  interrupt(): void;
  close(): Promise<void>;
}
