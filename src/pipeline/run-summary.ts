import type { EnvName } from '../config/config.js';
import type { TableLoadResult } from '../destination/destination.js';
import type { PackageTable } from '../package/load-package.js';
import type { EventListener, PipelineEvent, QualityReport, RunSummary, TableSummary } from './events.js';

/** What a run gathers from its own events for the summary and the failure record. */
export interface RunEvents {
  /** Passes every event on to the caller's listener, after noting what the run reports from it. */
  readonly emit: EventListener;
  /** Every warning, prefixed with its table. */
  readonly warnings: readonly string[];
  /** Milliseconds each table's extract took. */
  readonly extractMs: ReadonlyMap<string, number>;
  /** When the snapshot was taken, once it was (for the failure record). */
  snapshotAt(): string | undefined;
}

export function collectRunEvents(onEvent: EventListener): RunEvents {
  const warnings: string[] = [];
  const extractMs = new Map<string, number>();
  let snapshotTakenAt: string | undefined;
  const emit = (event: PipelineEvent) => {
    if (event.type === 'snapshot_taken') snapshotTakenAt = event.snapshotAt;
    if (event.type === 'warning') warnings.push(event.table ? `${event.table}: ${event.message}` : event.message);
    if (event.type === 'extract_finished') extractMs.set(event.table, event.ms);
    onEvent(event);
  };
  return { emit, warnings, extractMs, snapshotAt: () => snapshotTakenAt };
}

export interface RunOutcome {
  readonly runId: string;
  readonly env: EnvName;
  readonly dataset: string;
  readonly destination: string;
  readonly snapshotAt: string;
  readonly startedAt: Date;
  readonly extracted: readonly PackageTable[];
  readonly loaded: readonly TableLoadResult[];
  readonly recovered: RunSummary['recovered'];
  readonly quality: QualityReport | undefined;
}

/** The summary of a committed run: per table what was extracted and what the destination holds now. */
export function summarizeRun(outcome: RunOutcome, events: RunEvents): RunSummary {
  const { startedAt, loaded, quality } = outcome;
  const finishedAt = new Date();
  return {
    runId: outcome.runId,
    env: outcome.env,
    dataset: outcome.dataset,
    destination: outcome.destination,
    snapshotAt: outcome.snapshotAt,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    tables: outcome.extracted.map((t): TableSummary => {
      const l = loaded.find((x) => x.table === t.name)!;
      return {
        table: t.name,
        mode: l.mode,
        rowsExtracted: t.rows,
        bytesExtracted: t.bytes,
        extractMs: Math.round(events.extractMs.get(t.name) ?? 0),
        rowsInDestination: l.rowsInDestination,
        sourceRows: t.sourceRowCount,
        cursorFrom: t.cursor?.lowerBound ?? null,
        cursorTo: t.cursor ? (t.cursor.next ?? t.cursor.previous) : null,
      };
    }),
    recovered: outcome.recovered,
    warnings: [...events.warnings],
    ...(quality ? { quality } : {}),
  };
}
