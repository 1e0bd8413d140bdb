import type { ExtractFigures, PhaseFigures, PipelineEvent, TablePhase } from '../pipeline/events.js';
import { formatBytes, formatSeconds, nf } from './format.js';

/** How progress is shown in text output: redrawn lines on a terminal, a plain line now and then elsewhere, or none. */
export type ProgressMode = 'live' | 'plain' | 'off';

type Activity =
  | { kind: 'extract'; table: string; mode: string; estimatedRows: number | null; since: number; figures?: ExtractFigures }
  | { kind: 'load'; table: string; since: number; beat?: PhaseFigures }
  | { kind: 'commit'; tables: number; loading: boolean; since: number; beat?: PhaseFigures }
  | { kind: 'quality'; checks: number; since: number; beat?: PhaseFigures }
  | { kind: 'phase'; phase: TablePhase; table: string; estimatedRows: number | null; since: number; beat?: PhaseFigures };

const COMMIT = '\0commit';
const QUALITY = '\0quality';

/** The board's key of the activity a heartbeat belongs to. */
function beatKey(beat: PhaseFigures): string {
  if (beat.phase === 'commit') return COMMIT;
  if (beat.phase === 'quality') return QUALITY;
  return beat.table ?? '';
}

/** What is in progress now, from the run's events: each table being read or loaded, the commit, the quality gate. */
export class ProgressBoard {
  private readonly active = new Map<string, Activity>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Whether the event changed what is in progress. */
  update(event: PipelineEvent): boolean {
    const now = this.now();
    switch (event.type) {
      case 'extract_started':
        this.active.set(event.table, { kind: 'extract', table: event.table, mode: event.mode, estimatedRows: event.estimatedRows, since: now });
        return true;
      case 'extract_progress': {
        const a = this.active.get(event.table);
        if (a?.kind !== 'extract') return false;
        a.figures = event;
        return true;
      }
      case 'table_load_started':
        this.active.set(event.table, { kind: 'load', table: event.table, since: now });
        return true;
      case 'commit_started':
        this.active.set(COMMIT, { kind: 'commit', tables: event.tables, loading: event.loading, since: now });
        return true;
      case 'quality_started':
        this.active.set(QUALITY, { kind: 'quality', checks: event.checks, since: now });
        return true;
      case 'phase_started':
        this.active.set(event.table, { kind: 'phase', phase: event.phase, table: event.table, estimatedRows: event.estimatedRows, since: now });
        return true;
      case 'phase_progress': {
        const a = this.active.get(beatKey(event));
        if (!a || a.kind === 'extract') return false;
        a.beat = event;
        return true;
      }
      case 'quality_finished':
        return this.active.delete(QUALITY);
      case 'extract_finished':
      case 'table_load_finished':
      case 'phase_finished':
        return this.active.delete(event.table);
      case 'commit_finished':
        return this.active.delete(COMMIT);
      case 'run_finished':
        this.active.clear();
        return true;
      default:
        return false;
    }
  }

  get size(): number {
    return this.active.size;
  }

  /** One line per activity, oldest first, with its key and start time. */
  entries(): { key: string; since: number; line: string }[] {
    const now = this.now();
    return [...this.active].map(([key, a]) => ({ key, since: a.since, line: activityLine(a, now - a.since) }));
  }
}

const PHASE_WORDS: Record<TablePhase, string> = {
  key_scan: 'scanning keys (reconciliation)',
  key_diff: 'comparing keys and re-reading rows (reconciliation)',
  backfill: 'reading new columns (backfill)',
  source_count: 'counting source rows',
};

/** What the last heartbeat told: `  1,234,567 rows` (`/ ~N` with an estimate), DuckDB's `  61%`, or nothing. */
function beatRows(beat: PhaseFigures | undefined, estimatedRows: number | null = null): string {
  if (!beat) return '';
  const estimate = estimatedRows !== null ? ` / ~${nf.format(estimatedRows)}` : '';
  return `${beat.rows !== null ? `  ${nf.format(beat.rows)}${estimate} rows` : ''}${beat.percent !== null ? `  ${beat.percent}%` : ''}`;
}

/** e.g. `  contents  412,000 / ~1,000,000 rows  41%  205,000 rows/s  ETA 3 s  39.2 MB`. */
function activityLine(a: Activity, elapsedMs: number): string {
  const elapsed = formatSeconds(elapsedMs / 1000);
  if (a.kind === 'load') return `  ${a.table}  loading into the destination… ${elapsed}${beatRows(a.beat)}`;
  if (a.kind === 'quality') return `  quality gate: ${a.checks} check${a.checks === 1 ? '' : 's'}… ${elapsed}`;
  if (a.kind === 'commit') return `  ${a.loading ? 'loading and committing' : 'committing'} ${a.tables} table${a.tables === 1 ? '' : 's'}… ${elapsed}${beatRows(a.beat)}`;
  if (a.kind === 'phase') return `  ${a.table}  ${PHASE_WORDS[a.phase]}… ${elapsed}${beatRows(a.beat, a.estimatedRows)}`;
  const estimate = a.estimatedRows !== null ? ` / ~${nf.format(a.estimatedRows)}` : '';
  const f = a.figures;
  if (!f) return `  ${a.table}  reading (${a.mode})…${a.estimatedRows !== null ? ` ~${nf.format(a.estimatedRows)} rows estimated` : ''}`;
  const parts = [`  ${a.table}`, `${nf.format(f.rows)}${estimate} rows`];
  if (f.percent !== null) parts.push(`${f.percent}%`);
  parts.push(`${nf.format(f.rowsPerSecond)} rows/s`);
  if (f.etaSeconds !== null) parts.push(`ETA ${formatSeconds(f.etaSeconds)}`);
  parts.push(formatBytes(f.bytes));
  return parts.join('  ');
}

/** Shows progress alongside the renderer's permanent lines, which it writes through `around`. */
export interface ProgressView {
  event(event: PipelineEvent): void;
  /** Writes a permanent line: the live lines are erased first and drawn again after it. */
  around(write: () => void): void;
  /** Erases the live lines and stops the timer (before the summary, on an error). */
  stop(): void;
}

const REDRAW_MS = 100;
const TICK_MS = 250;

/**
 * A terminal: one line per table in progress (and the commit), redrawn in place below the permanent lines, at most
 * every 100 ms and every 250 ms for elapsed times. Lines are cut to the terminal's width so none wraps.
 */
class LiveProgress implements ProgressView {
  private drawn = 0;
  private lastDraw = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly board: ProgressBoard,
    private readonly stream: NodeJS.WritableStream & { columns?: number },
    private readonly now: () => number,
  ) {}

  event(event: PipelineEvent): void {
    if (!this.board.update(event)) return;
    this.draw(event.type !== 'extract_progress');
    if (this.board.size > 0 && !this.timer) this.timer = setInterval(() => this.draw(true), TICK_MS).unref();
    if (this.board.size === 0) this.stopTimer();
  }

  around(write: () => void): void {
    this.stream.write(this.erase());
    this.drawn = 0;
    write();
    this.draw(true);
  }

  stop(): void {
    this.stopTimer();
    this.stream.write(this.erase());
    this.drawn = 0;
  }

  private draw(force: boolean): void {
    const now = this.now();
    if (!force && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const width = Math.max(20, (this.stream.columns || 120) - 1);
    const lines = this.board.entries().map((e) => (e.line.length > width ? `${e.line.slice(0, width - 1)}…` : e.line));
    this.stream.write(this.erase() + lines.join('\n'));
    this.drawn = lines.length;
  }

  /** From the end of the last live line: clear it, then each line above, back to where the first one began. */
  private erase(): string {
    if (this.drawn === 0) return '';
    return '\r\x1b[2K' + '\x1b[1A\x1b[2K'.repeat(this.drawn - 1);
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/**
 * A log file or CI: no carriage return, no escape; a table (or the commit) still in progress after `intervalMs` gets
 * one plain line, then one more every `intervalMs`.
 */
class PlainProgress implements ProgressView {
  private readonly printed = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly board: ProgressBoard,
    private readonly write: (line: string) => void,
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {}

  event(event: PipelineEvent): void {
    if (!this.board.update(event)) return;
    if (this.board.size > 0 && !this.timer) this.timer = setInterval(() => this.tick(), Math.min(1000, this.intervalMs / 4)).unref();
    if (this.board.size === 0) this.stop();
  }

  around(write: () => void): void {
    write();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = this.now();
    const live = this.board.entries();
    for (const key of this.printed.keys()) if (!live.some((e) => e.key === key)) this.printed.delete(key);
    for (const e of live) {
      if (now - (this.printed.get(e.key) ?? e.since) < this.intervalMs) continue;
      this.printed.set(e.key, now);
      this.write(`${e.line}\n`);
    }
  }
}

const OFF: ProgressView = { event: () => undefined, around: (write) => write(), stop: () => undefined };

/** The progress view for text output: `live` draws on `terminal` (stderr), `plain` writes lines through `write`. */
export function progressView(
  mode: ProgressMode,
  terminal: NodeJS.WritableStream & { columns?: number },
  write: (line: string) => void,
  intervalMs: number,
  now: () => number = Date.now,
): ProgressView {
  if (mode === 'live') return new LiveProgress(new ProgressBoard(now), terminal, now);
  if (mode === 'plain') return new PlainProgress(new ProgressBoard(now), write, intervalMs, now);
  return OFF;
}
