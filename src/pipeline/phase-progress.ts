import type { EventListener, ProgressPhase, TablePhase } from './events.js';

/** Rows done so far, and a completion percentage where the worker knows one; null when it cannot tell. */
export type RowsDone = () => { readonly rows: number | null; readonly percent: number | null } | null;

/** INGESTA_PROGRESS_INTERVAL's default, when a caller builds its RunConfig without one. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 10_000;

/** How a run's long phases report that they are alive: the interval (INGESTA_PROGRESS_INTERVAL) and where to tell. */
export interface Pulse {
  readonly emit: EventListener;
  readonly intervalMs: number;
}

/**
 * Runs `work` with a heartbeat: a phase_progress event every `pulse.intervalMs` while it lasts (elapsed ms, and the
 * rows `rowsDone` tells, else null), none once it settles. A phase shorter than the interval emits none.
 */
export async function withHeartbeat<T>(pulse: Pulse, phase: ProgressPhase, table: string | undefined, rowsDone: RowsDone | undefined, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const timer = setInterval(() => {
    const done = rowsDone?.() ?? null;
    pulse.emit({
      type: 'phase_progress',
      phase,
      ...(table !== undefined ? { table } : {}),
      ms: Math.round(performance.now() - started),
      rows: done?.rows ?? null,
      percent: done?.percent ?? null,
    });
  }, pulse.intervalMs);
  timer.unref();
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/**
 * A table phase that reads the source with COPY (the key scan, the backfill read) or counts it: phase_started, the
 * heartbeat with the records counted in the stream so far (`onBytes`, for copyToFile), phase_finished with the rows.
 */
export async function tablePhase<T>(
  pulse: Pulse,
  phase: TablePhase,
  table: string,
  estimatedRows: number | null,
  work: (onBytes: (bytes: number, chunk: Buffer) => void) => Promise<T>,
  rowsOf: (result: T) => number,
): Promise<T> {
  const started = performance.now();
  let rows = 0;
  let streamed = false;
  const onBytes = (_bytes: number, chunk: Buffer) => {
    streamed = true;
    rows += countNewlines(chunk);
  };
  pulse.emit({ type: 'phase_started', phase, table, estimatedRows });
  const result = await withHeartbeat(pulse, phase, table, () => (streamed ? { rows, percent: null } : null), () => work(onBytes));
  pulse.emit({ type: 'phase_finished', phase, table, rows: rowsOf(result), ms: Math.round(performance.now() - started) });
  return result;
}

const NEWLINE = 0x0a;

/**
 * CSV records in a chunk of COPY output, counted as newlines with Buffer.indexOf (memchr: a few ms per 100 MB). A
 * newline inside a quoted value counts too, so the count runs ahead on such data; the COPY's own row count replaces
 * it when the table is done.
 */
export function countNewlines(chunk: Buffer): number {
  let n = 0;
  for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, i + 1)) n += 1;
  return n;
}
