import type { QualityReport } from '../quality/check-types.js';

// the gate's report is the quality gate's own type; re-exported with the other things a run reports
export type { QualityReport } from '../quality/check-types.js';

/** What a run reports while it works; the CLI renders these, a library user may listen to them. */
export type PipelineEvent =
  | { type: 'run_started'; runId: string; env: string; dataset: string; destination: string; tables: string[] }
  | { type: 'package_recovered'; runId: string; action: 'completed' | 'discarded' | 'removed' | 'left'; reason: string }
  | { type: 'warning'; table?: string; message: string }
  /** Worth knowing, not worth a warning: text output shows it with --verbose only. */
  | { type: 'note'; message: string }
  | { type: 'snapshot_taken'; snapshotAt: string }
  /** estimatedRows: PostgreSQL's estimate of the rows the read returns (pipeline/progress.ts), null when unknown. */
  | { type: 'extract_started'; table: string; mode: TableMode; filter: string | undefined; estimatedRows: number | null }
  /** At most every 250 ms per table while its COPY streams (rows approximate until extract_finished). */
  | ({ type: 'extract_progress'; table: string } & ExtractFigures)
  | { type: 'extract_finished'; table: string; rows: number; bytes: number; ms: number }
  | { type: 'table_reconciled'; table: string; sourceKeys: number; refetched: number; deleted: number }
  | { type: 'table_backfilled'; table: string; columns: string[]; rows: number }
  | { type: 'load_started'; tables: number }
  /** A transactional destination loads an extracted table into the open transaction (while others are extracted). */
  | { type: 'table_load_started'; table: string }
  | { type: 'table_load_finished'; table: string; ms: number }
  /** Every table is extracted: the destination commits; loading: it loads the tables in this step too (Athena). */
  | { type: 'commit_started'; tables: number; loading: boolean }
  | { type: 'commit_finished'; tables: number; ms: number }
  | { type: 'table_loaded'; table: string; mode: TableMode; rowsLoaded: number; rowsInDestination: number }
  /** The quality gate's checks start running on the destination (after the commit, or alone). */
  | { type: 'quality_started'; checks: number }
  | { type: 'quality_finished'; report: QualityReport }
  /**
   * A phase of its own for a table that used to be silent: a reconciliation's key scan and its comparison in the
   * destination with the re-read of what it returns (key_diff: rows = rows re-read), a column backfill's read,
   * --solo-validar's row count. estimatedRows: PostgreSQL's estimate of the rows it reads, null when unknown.
   */
  | { type: 'phase_started'; phase: TablePhase; table: string; estimatedRows: number | null }
  | { type: 'phase_finished'; phase: TablePhase; table: string; rows: number; ms: number }
  /**
   * The heartbeat of a phase still running, every progress interval (INGESTA_PROGRESS_INTERVAL): elapsed ms, the rows
   * done where known (a COPY's records counted), DuckDB's estimate of its current statement where it has one.
   */
  | ({ type: 'phase_progress' } & PhaseFigures)
  | { type: 'dry_run'; plan: DryRunPlan }
  | { type: 'run_finished'; summary: RunSummary };

export type TableMode = 'full' | 'incremental';

/** The phases a per-table phase_started / phase_finished pair frames (pipeline/phase-progress.ts). */
export type TablePhase = 'key_scan' | 'key_diff' | 'backfill' | 'source_count';

/**
 * Every phase that gets a heartbeat (phase_progress): a table's load into the open transaction, the commit (Athena:
 * the whole load), the quality gate's checks, and the table phases above.
 */
export type ProgressPhase = 'load' | 'commit' | 'quality' | TablePhase;

/** A heartbeat's figures (phase_progress). */
export interface PhaseFigures {
  readonly phase: ProgressPhase;
  /** The table the phase works on; absent for the commit and the quality gate (the whole run). */
  readonly table?: string;
  /** Milliseconds since the phase started. */
  readonly ms: number;
  /** Rows done so far where known (the records a key scan's or backfill's COPY has streamed), else null. */
  readonly rows: number | null;
  /** DuckDB's own estimate of its current statement's completion (0–99) during a load or commit, else null. */
  readonly percent: number | null;
}

/**
 * A table's extraction as a person watches it: rows so far, the share of PostgreSQL's estimate, the rate and the time
 * left. Computed once (pipeline/progress.ts), for every renderer and for library listeners alike.
 */
export interface ExtractFigures {
  /** Rows read so far: CSV records counted while the COPY streams (approximate until extract_finished, exact there). */
  readonly rows: number;
  readonly bytes: number;
  /** Milliseconds since the table's COPY started. */
  readonly ms: number;
  /** PostgreSQL's estimate of the rows the read returns; null when unknown. */
  readonly estimatedRows: number | null;
  readonly rowsPerSecond: number;
  /** 0–99 while reading (never 100 before the end), null without an estimate or once the rows exceed it. */
  readonly percent: number | null;
  /** Seconds left at the current rate; null when the percentage is. */
  readonly etaSeconds: number | null;
}


export interface TableSummary {
  readonly table: string;
  readonly mode: TableMode;
  readonly rowsExtracted: number;
  readonly bytesExtracted: number;
  readonly extractMs: number;
  readonly rowsInDestination: number;
  readonly sourceRows: number | null;
  readonly cursorFrom: string | null;
  readonly cursorTo: string | null;
}

export interface RunSummary {
  readonly runId: string;
  readonly env: string;
  readonly dataset: string;
  readonly destination: string;
  readonly snapshotAt: string | undefined;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly tables: readonly TableSummary[];
  readonly recovered: readonly { runId: string; action: string }[];
  readonly warnings: readonly string[];
  /** Present when the quality gate ran after the load. */
  readonly quality?: QualityReport;
}

export type EventListener = (event: PipelineEvent) => void;

/** What a run would do, table by table (--dry-run, dryRun()). */
export interface DryRunPlan {
  readonly runId: string;
  readonly env: string;
  readonly dataset: string;
  readonly destination: string;
  readonly tables: readonly DryRunTable[];
}

/** One table of a dry run. */
export interface DryRunTable {
  readonly table: string;
  readonly mode: TableMode;
  readonly cursor: { readonly column: string; readonly from: string | null; readonly to: string | null } | undefined;
  /** The SELECT that COPY would stream. */
  readonly select: string;
  /** What the destination would do with the rows, in order. */
  readonly steps: readonly string[];
  /**
   * A change data capture table (pipeline/cdc-plan.ts): its slot, the LSN the destination holds, the slot's confirmed
   * position, the WAL position now and the WAL bytes in between; `reason` when the slot would be (re)created.
   */
  readonly cdc?: {
    readonly slot: string;
    readonly storedLsn: string | null;
    readonly confirmedLsn: string | null;
    readonly endPoint: string;
    readonly pendingWalBytes: string | null;
    readonly reason: string | null;
  };
}
