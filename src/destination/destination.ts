import { DestinationError } from '../errors.js';
import type { Manifest, PackageTable } from '../package/load-package.js';
import type { GateTarget } from '../quality/quality-gate.js';
import type { DatasetHistory } from './dataset-history.js';
import type { KeyReconciler } from './key-reconciler.js';

// the other two contracts, re-exported for the modules that import every destination type from here
export type { DatasetHistory, DatasetStatus, FailedRunTimes, RunStatus, TableStatus } from './dataset-history.js';
export type { KeyDiff, KeyDiffRequest, KeyReconciler, MergeCountRequest } from './key-reconciler.js';

/** What a destination can do; the pipeline branches on these, never on a destination's name. Every flag is read. */
export interface DestinationCapabilities {
  /** Whether "Name" and "name" can be two different columns (the name mapping: schema-check, quality-stage). */
  readonly caseSensitiveIdentifiers: boolean;
  /** Whether every name is stored in lower case (Athena/Glue). */
  readonly lowerCaseIdentifiers: boolean;
  /**
   * Whether the load is one transaction that can be opened before extraction ends (Destination.beginLoad): each table
   * is loaded as soon as its file is complete, and nothing is visible before the commit (run.ts).
   */
  readonly loadWhileExtracting: boolean;
  /**
   * Whether the destination can compare the source's keys with its own (--reconcile: late commits, hard deletes):
   * Destination.reconciler (prepare-reads.ts, run.ts).
   */
  readonly keyReconciliation: boolean;
  /** Whether a column new in the source is filled into the older rows of a merge table (PackageTable.backfill; backfill.ts). */
  readonly columnBackfill: boolean;
  /** Whether a package table's CDC change file (PackageTable.cdc) can be applied (pipeline/cdc-stage.ts). */
  readonly changeDataCapture: boolean;
  /**
   * Whether CDC can apply the changes of a table without a key (REPLICA IDENTITY FULL): each delete to one row equal
   * to the old values. Needs the data and the slot position to commit together (a replay must not apply an insert
   * twice); without it such tables are refused before anything is read (cdc-stage.ts).
   */
  readonly keylessChangeDataCapture: boolean;
  /**
   * Whether a full (replace) table keeps a column the source dropped, NULL-filled (DuckDB), rather than taking the
   * batch's columns (Athena: the Parquet table is defined anew): what the schema check tells the user.
   */
  readonly fullTablesKeepDroppedColumns: boolean;
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

/**
 * A place ingesta loads into: what every destination must do. One instance serves one run against one dataset;
 * `open` takes whatever exclusivity the destination offers (DuckDB: the file lock), so two runs never interleave.
 * Opened read-only (validate-only), it changes nothing and lets other readers in. The dataset's history is its own
 * object (`history`); key reconciliation and the early load transaction are there exactly when `capabilities` say so
 * (CapabilityMembers; the pipeline reaches them through keyReconcilerOf and beginLoadOf, by the capability).
 */
export interface Destination {
  readonly capabilities: DestinationCapabilities;
  /** Runs, status, resets, quality results, snapshots, schema versions, failure records. */
  readonly history: DatasetHistory;
  /** Present exactly when capabilities.keyReconciliation. */
  readonly reconciler?: KeyReconciler;
  /** Opens the destination and takes the run's lock; fails with a clear DestinationError when another run holds it. */
  open(): Promise<void>;
  /** Incremental cursors by table name (empty on a new dataset). */
  readState(): Promise<Map<string, TableState>>;
  /** Column name → destination type of a dataset table, in column order; empty when the table does not exist. */
  describeTable(table: string): Promise<Map<string, string>>;
  /** Names of the tables the dataset holds now (a merge table missing here is loaded in full). */
  existingTables(): Promise<Set<string>>;
  /**
   * Loads every table of an extracted package, then advances the cursors and writes the load record. On a
   * destination with loadWhileExtracting, all of it commits at once or not at all.
   */
  loadPackage(manifest: Manifest, packageDir: string, onTable?: (result: TableLoadResult) => void): Promise<TableLoadResult[]>;
  /**
   * Present exactly when capabilities.loadWhileExtracting: opens the load transaction before extraction ends, so each
   * table is loaded as soon as its file is complete, overlapping extraction and loading.
   */
  beginLoad?(manifest: Pick<Manifest, 'runId'>, packageDir: string): Promise<LoadSession>;
  /** Where the quality gate runs its SQL (the destination's dialect and tables). */
  qualityTarget(): GateTarget;
  /** What loading this table would do, in order, for --dry-run (no call is made). */
  plannedSteps(table: Omit<PackageTable, 'rows' | 'bytes' | 'sourceRowCount'>, runId: string): string[];
  /**
   * How far the destination's current load or commit statement is, where it can tell (DuckDB's estimate of its
   * current statement, 0–99 %), for the heartbeat of a long phase; absent or null when it cannot.
   */
  statementProgress?(): { percent: number } | null;
  /** Cancels what is running now (SIGTERM): the awaited call fails, and nothing uncommitted becomes visible. */
  interrupt(): void;
  close(): Promise<void>;
}

/**
 * The members a capability switches on, for a destination class with these capabilities (`implements Destination,
 * CapabilityMembers<typeof ITS_CAPABILITIES>`): a flag that is true requires its member, a flag that is false forbids
 * it, so a class cannot claim a capability it lacks or hide one it has.
 */
export type CapabilityMembers<C extends DestinationCapabilities> = (C['keyReconciliation'] extends true
  ? { readonly reconciler: KeyReconciler }
  : { readonly reconciler?: undefined }) &
  (C['loadWhileExtracting'] extends true ? { beginLoad(manifest: Pick<Manifest, 'runId'>, packageDir: string): Promise<LoadSession> } : { readonly beginLoad?: undefined });

/** The destination's key reconciler when its capabilities say keyReconciliation, else undefined. */
export function keyReconcilerOf(destination: Destination): KeyReconciler | undefined {
  if (!destination.capabilities.keyReconciliation) return undefined;
  if (!destination.reconciler) throw new DestinationError('This destination declares key reconciliation but has no reconciler (a bug in the destination).');
  return destination.reconciler;
}

/** Opens the load transaction before extraction ends when the capabilities say loadWhileExtracting, else undefined. */
export async function beginLoadOf(destination: Destination, manifest: Pick<Manifest, 'runId'>, packageDir: string): Promise<LoadSession | undefined> {
  if (!destination.capabilities.loadWhileExtracting) return undefined;
  if (!destination.beginLoad) throw new DestinationError('This destination declares loading while extracting but has no beginLoad (a bug in the destination).');
  return destination.beginLoad(manifest, packageDir);
}
