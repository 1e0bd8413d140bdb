import type pg from 'pg';
import { estimateSelectRows, estimateTableRows } from '../source/postgres/row-estimate.js';
import type { EventListener, ExtractFigures } from './events.js';
import type { TableRead } from './table-read.js';
import type { LoadSession, TableLoadResult } from '../destination/destination.js';
import type { PackageTable } from '../package/load-package.js';
import { countNewlines, withHeartbeat, type Pulse, type RowsDone } from './phase-progress.js';

// the stream's record count lives beside the heartbeat (phase-progress.ts); re-exported for the extract and its tests
export { countNewlines } from './phase-progress.js';

export function extractFigures(rows: number, bytes: number, ms: number, estimatedRows: number | null): ExtractFigures {
  const rowsPerSecond = ms > 0 ? Math.round((rows * 1000) / ms) : 0;
  const within = estimatedRows !== null && rows <= estimatedRows;
  const percent = within ? Math.min(99, Math.floor((rows * 100) / estimatedRows)) : null;
  const etaSeconds = within && rowsPerSecond > 0 ? Math.ceil((estimatedRows - rows) / rowsPerSecond) : null;
  return { rows, bytes, ms: Math.round(ms), estimatedRows, rowsPerSecond, percent, etaSeconds };
}

/**
 * The estimate shown against a read: pg_class.reltuples for a full read (free); for an incremental read, the
 * planner's estimate of its window (EXPLAIN, no execution), only when the table has statistics at all.
 */
export async function estimateRead(client: pg.Client, read: TableRead): Promise<number | null> {
  const table = await estimateTableRows(client, read.entry.sourceSchema, read.entry.sourceName);
  if (read.mode === 'full' || table === null) return table;
  return estimateSelectRows(client, read.select);
}

/** How often a table's extract_progress event is emitted at most (renderers throttle further). */
export const PROGRESS_EVERY_MS = 250;

/**
 * The per-chunk callback of a table's COPY (copyToFile's onBytes): counts records, and emits extract_progress at
 * most every PROGRESS_EVERY_MS. Its cost per network chunk is one memchr pass and one clock read.
 */
export function extractProgress(emit: EventListener, table: string, estimatedRows: number | null): (bytes: number, chunk: Buffer) => void {
  const started = performance.now();
  let rows = 0;
  let last = started;
  return (bytes, chunk) => {
    rows += countNewlines(chunk);
    const now = performance.now();
    if (now - last < PROGRESS_EVERY_MS) return;
    last = now;
    emit({ type: 'extract_progress', table, ...extractFigures(rows, bytes, now - started, estimatedRows) });
  };
}

/** Loads one extracted table into an open load session, between table_load_started and table_load_finished. */
export async function loadTimed(session: LoadSession, table: PackageTable, pulse: Pulse, rowsDone?: RowsDone): Promise<void> {
  const started = performance.now();
  pulse.emit({ type: 'table_load_started', table: table.name });
  await withHeartbeat(pulse, 'load', table.name, rowsDone, () => session.loadTable(table));
  pulse.emit({ type: 'table_load_finished', table: table.name, ms: Math.round(performance.now() - started) });
}

/**
 * The destination's last step (the commit; Athena: its whole load), between commit_started and commit_finished, with
 * a heartbeat while it lasts.
 */
export async function commitTimed(tables: number, loading: boolean, pulse: Pulse, rowsDone: RowsDone | undefined, commit: () => Promise<TableLoadResult[]>): Promise<TableLoadResult[]> {
  const started = performance.now();
  pulse.emit({ type: 'commit_started', tables, loading });
  const loaded = await withHeartbeat(pulse, 'commit', undefined, rowsDone, commit);
  pulse.emit({ type: 'commit_finished', tables, ms: Math.round(performance.now() - started) });
  return loaded;
}
