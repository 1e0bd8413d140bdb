import type { PipelineEvent, RunSummary } from '../pipeline/events.js';
import type { StatusReport } from '../pipeline/operations.js';
import { statusText } from './status-output.js';
import { textTable } from './text-table.js';
import type { CheckResult } from '../quality/check-types.js';
import { gateText } from './gate-output.js';
import { formatBytes, formatMs, nf } from './format.js';
import { progressView, type ProgressMode } from './progress-line.js';

export { formatBytes } from './format.js';

export { textTable };

export type LogFormat = 'text' | 'json';

/** Renders pipeline events: live progress on a terminal, plain lines otherwise, one JSON object per line for machines. */
export interface Renderer {
  event(event: PipelineEvent): void;
  error(kind: string, message: string, exitCode: number): void;
  info(message: string): void;
  status(report: StatusReport): void;
}

export type Verbosity = 'quiet' | 'normal' | 'verbose';

export function summaryTable(summary: RunSummary): string {
  const rows = summary.tables.map((t) => [
    t.table,
    t.mode,
    nf.format(t.rowsExtracted),
    formatBytes(t.bytesExtracted),
    nf.format(t.rowsInDestination),
    t.cursorTo ?? '',
  ]);
  return textTable(['table', 'mode', 'rows read', 'bytes', 'rows in destination', 'cursor'], rows, new Set([2, 3, 4]));
}

/** Every check of a gate as one table (--verbose). */
export function qualityTable(checks: readonly CheckResult[]): string {
  const rows = checks.map((c) => [c.check, c.table, c.status.toUpperCase(), c.observed === null ? '' : String(c.observed), c.expected === null ? '' : String(c.expected), c.message]);
  return textTable(['check', 'table', 'status', 'observed', 'expected', 'message'], rows, new Set([3, 4]));
}

/** Text output's progress: `auto` is live lines when stderr is a terminal, plain lines now and then otherwise. */
export interface ProgressOptions {
  readonly mode: 'auto' | ProgressMode;
  /** Plain mode: how often a table still in progress gets a line. */
  readonly intervalMs: number;
}

/** JSON output: a table's extract_progress at most this often (phase events are never held back). */
export const JSON_PROGRESS_EVERY_MS = 1000;

export function createRenderer(
  format: LogFormat,
  verbosity: Verbosity = 'normal',
  out: NodeJS.WriteStream = process.stdout,
  err: NodeJS.WriteStream = process.stderr,
  progress: ProgressOptions = { mode: 'auto', intervalMs: 10_000 },
): Renderer {
  if (format === 'json') {
    // one event per line, each with the run id once it is known (CloudWatch Logs Insights can filter on it)
    let runId: string | null = null;
    const write = (obj: object) => out.write(`${JSON.stringify({ time: new Date().toISOString(), runId, ...obj })}\n`);
    const lastProgress = new Map<string, number>();
    return {
      event(event) {
        if (event.type === 'run_started') runId = event.runId;
        if (event.type === 'dry_run') runId = event.plan.runId;
        if (event.type === 'quality_finished') runId ??= event.report.runId;
        if (event.type === 'extract_progress') {
          const now = Date.now();
          if (now - (lastProgress.get(event.table) ?? 0) < JSON_PROGRESS_EVERY_MS) return;
          lastProgress.set(event.table, now);
        }
        write(event);
      },
      status(report) {
        write({ type: 'status', ...report });
      },
      // the error line goes to stderr in every format: a caller that watches stderr sees why the run failed
      error(kind, message, exitCode) {
        err.write(`${JSON.stringify({ time: new Date().toISOString(), runId, type: 'error', kind, message, exitCode })}\n`);
      },
      info(message) {
        write({ type: 'info', message });
      },
    };
  }
  const quiet = verbosity === 'quiet';
  const mode: ProgressMode = quiet ? 'off' : progress.mode === 'auto' ? (err.isTTY ? 'live' : 'plain') : progress.mode;
  // permanent lines go to stdout through the view, which erases its live lines (on stderr) first and redraws them after
  const view = progressView(mode, err, (line) => out.write(line), progress.intervalMs);
  const print = (text: string) => view.around(() => out.write(text));
  return {
    status(report) {
      print(statusText(report));
    },
    event(event) {
      view.event(event);
      if (event.type === 'run_finished' || event.type === 'dry_run') view.stop();
      if (quiet && event.type !== 'warning' && event.type !== 'run_finished' && event.type !== 'quality_finished' && event.type !== 'dry_run') return;
      switch (event.type) {
        case 'run_started':
          print(`ingesta run ${event.runId}: ${event.tables.length} tables → ${event.dataset} (${event.destination})\n`);
          break;
        case 'package_recovered':
          print(`leftover load package ${event.runId}: ${event.action} — ${event.reason}\n`);
          break;
        case 'warning':
          print(`warning: ${event.table ? `${event.table}: ` : ''}${event.message}\n`);
          break;
        case 'note':
          if (verbosity === 'verbose') print(`note: ${event.message}\n`);
          break;
        case 'snapshot_taken':
          print(`source snapshot at ${event.snapshotAt}\n`);
          break;
        case 'extract_started':
          if (verbosity === 'verbose') print(`  reading ${event.table} (${event.mode})${event.filter ? ` where ${event.filter}` : ''}\n`);
          break;
        case 'extract_finished': {
          const rate = event.ms > 0 ? `${nf.format(Math.round((event.rows * 1000) / event.ms))} rows/s` : '';
          print(`  extracted ${event.table}: ${nf.format(event.rows)} rows, ${formatBytes(event.bytes)} in ${formatMs(event.ms)} ${rate}\n`);
          break;
        }
        case 'table_reconciled':
          print(
            `  reconciled ${event.table}: ${nf.format(event.sourceKeys)} source keys compared, ${nf.format(event.refetched)} rows re-read (committed late or missed), ` +
              `${nf.format(event.deleted)} keys deleted in the source\n`,
          );
          break;
        case 'table_backfilled':
          print(
            `  backfilled ${event.table}: ${event.columns.join(', ')} (new in the source) read for ${nf.format(event.rows)} existing rows with a value, ` +
              'merged into the older rows in the same transaction\n',
          );
          break;
        case 'load_started':
          print(`loading ${event.tables} tables in one transaction…\n`);
          break;
        case 'commit_finished':
          print(`committed ${event.tables} table${event.tables === 1 ? '' : 's'} in ${formatMs(event.ms)}\n`);
          break;
        case 'table_loaded':
          if (verbosity === 'verbose') print(`  loaded ${event.table}: ${nf.format(event.rowsLoaded)} rows (${event.mode}), ${nf.format(event.rowsInDestination)} in the table\n`);
          break;
        case 'dry_run': {
          const p = event.plan;
          print(`dry run ${p.runId}: ${p.tables.length} tables → ${p.dataset} (${p.destination}); nothing is written\n`);
          for (const t of p.tables) {
            const window = t.cursor ? ` ${t.cursor.column} from ${t.cursor.from ?? 'the beginning'} to ${t.cursor.to ?? '(empty)'}` : '';
            print(`\n${t.table}: ${t.mode}${window}\n  read:  COPY (${t.select}) TO STDOUT (FORMAT csv)\n`);
            for (const step of t.steps) print(`  then:  ${step}\n`);
          }
          break;
        }
        case 'phase_finished':
          // the key scan and the backfill print their own line when the table's step is done (table_reconciled, …)
          if (event.phase === 'source_count') print(`  counted ${event.table}: ${nf.format(event.rows)} rows in the source in ${formatMs(event.ms)}\n`);
          break;
        case 'quality_finished':
          if (event.report.mode === 'only') print(`\n${gateText(event.report, verbosity, qualityTable)}\n`);
          break;
        case 'run_finished':
          if (quiet) print(`run ${event.summary.runId} loaded ${event.summary.tables.length} tables in ${formatMs(event.summary.durationMs)}\n`);
          else print(`\n${summaryTable(event.summary)}\n\nrun ${event.summary.runId} loaded in ${formatMs(event.summary.durationMs)}\n`);
          if (event.summary.quality) print(`\n${gateText(event.summary.quality, verbosity, qualityTable)}\n`);
          break;
      }
    },
    error(_kind, message) {
      view.stop();
      err.write(`ingesta: error: ${message}\n`);
    },
    info(message) {
      print(`${message}\n`);
    },
  };
}
