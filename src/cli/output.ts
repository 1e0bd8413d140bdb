import type { PipelineEvent, RunSummary } from '../pipeline/events.js';
import type { StatusReport } from '../pipeline/operations.js';
import { statusText } from './status-output.js';
import { textTable } from './text-table.js';
import type { CheckResult } from '../quality/check-types.js';
import { gateText } from './gate-output.js';

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

const nf = new Intl.NumberFormat('en-US');

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

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

export function createRenderer(format: LogFormat, verbosity: Verbosity = 'normal', out: NodeJS.WriteStream = process.stdout, err: NodeJS.WriteStream = process.stderr): Renderer {
  if (format === 'json') {
    // one event per line, each with the run id once it is known (CloudWatch Logs Insights can filter on it)
    let runId: string | null = null;
    const write = (obj: object) => out.write(`${JSON.stringify({ time: new Date().toISOString(), run_id: runId, ...obj })}\n`);
    let lastProgress = 0;
    return {
      event(event) {
        if (event.type === 'run_started') runId = event.runId;
        if (event.type === 'dry_run') runId = event.plan.runId;
        if (event.type === 'quality_finished') runId ??= event.report.run_id;
        if (event.type === 'extract_progress') {
          const now = Date.now();
          if (now - lastProgress < 1000) return;
          lastProgress = now;
        }
        write(event);
      },
      status(report) {
        write({ type: 'status', ...report });
      },
      // the error line goes to stderr in every format: a caller that watches stderr sees why the run failed
      error(kind, message, exitCode) {
        err.write(`${JSON.stringify({ time: new Date().toISOString(), run_id: runId, type: 'error', kind, message, exitCode })}\n`);
      },
      info(message) {
        write({ type: 'info', message });
      },
    };
  }
  const tty = Boolean(out.isTTY) && verbosity !== 'quiet';
  const quiet = verbosity === 'quiet';
  let started = 0;
  let lastDraw = 0;
  const clear = () => {
    if (tty) out.write('\r\x1b[2K');
  };
  return {
    status(report) {
      out.write(statusText(report));
    },
    event(event) {
      if (quiet && event.type !== 'warning' && event.type !== 'run_finished' && event.type !== 'quality_finished' && event.type !== 'dry_run') return;
      switch (event.type) {
        case 'run_started':
          out.write(`ingesta run ${event.runId}: ${event.tables.length} tables → ${event.dataset} (${event.destination})\n`);
          break;
        case 'package_recovered':
          out.write(`leftover load package ${event.runId}: ${event.action} — ${event.reason}\n`);
          break;
        case 'warning':
          clear();
          out.write(`warning: ${event.table ? `${event.table}: ` : ''}${event.message}\n`);
          break;
        case 'note':
          if (verbosity === 'verbose') out.write(`note: ${event.message}\n`);
          break;
        case 'snapshot_taken':
          out.write(`source snapshot at ${event.snapshotAt}\n`);
          break;
        case 'extract_started':
          started = Date.now();
          if (verbosity === 'verbose') out.write(`  reading ${event.table} (${event.mode})${event.filter ? ` where ${event.filter}` : ''}\n`);
          if (tty) out.write(`  ${event.table}  ${event.mode}  extracting…`);
          break;
        case 'extract_progress': {
          if (!tty) break;
          const now = Date.now();
          if (now - lastDraw < 200) break;
          lastDraw = now;
          const seconds = Math.max((now - started) / 1000, 0.001);
          clear();
          out.write(`  ${event.table}  ${formatBytes(event.bytes)}  ${formatBytes(event.bytes / seconds)}/s`);
          break;
        }
        case 'extract_finished': {
          clear();
          const rate = event.ms > 0 ? `${nf.format(Math.round((event.rows * 1000) / event.ms))} rows/s` : '';
          out.write(`  extracted ${event.table}: ${nf.format(event.rows)} rows, ${formatBytes(event.bytes)} in ${formatMs(event.ms)} ${rate}\n`);
          break;
        }
        case 'table_reconciled':
          out.write(
            `  reconciled ${event.table}: ${nf.format(event.sourceKeys)} source keys compared, ${nf.format(event.refetched)} rows re-read (committed late or missed), ` +
              `${nf.format(event.deleted)} keys deleted in the source\n`,
          );
          break;
        case 'table_backfilled':
          out.write(
            `  backfilled ${event.table}: ${event.columns.join(', ')} (new in the source) read for ${nf.format(event.rows)} existing rows with a value, ` +
              'merged into the older rows in the same transaction\n',
          );
          break;
        case 'load_started':
          out.write(`loading ${event.tables} tables in one transaction…\n`);
          break;
        case 'table_loaded':
          if (verbosity === 'verbose') out.write(`  loaded ${event.table}: ${nf.format(event.rowsLoaded)} rows (${event.mode}), ${nf.format(event.rowsInDestination)} in the table\n`);
          break;
        case 'dry_run': {
          const p = event.plan;
          out.write(`dry run ${p.runId}: ${p.tables.length} tables → ${p.dataset} (${p.destination}); nothing is written\n`);
          for (const t of p.tables) {
            const window = t.cursor ? ` ${t.cursor.column} from ${t.cursor.from ?? 'the beginning'} to ${t.cursor.to ?? '(empty)'}` : '';
            out.write(`\n${t.table}: ${t.mode}${window}\n  read:  COPY (${t.select}) TO STDOUT (FORMAT csv)\n`);
            for (const step of t.steps) out.write(`  then:  ${step}\n`);
          }
          break;
        }
        case 'quality_finished':
          if (event.report.mode === 'only') out.write(`\n${gateText(event.report, verbosity, qualityTable)}\n`);
          break;
        case 'run_finished':
          if (quiet) out.write(`run ${event.summary.runId} loaded ${event.summary.tables.length} tables in ${formatMs(event.summary.durationMs)}\n`);
          else out.write(`\n${summaryTable(event.summary)}\n\nrun ${event.summary.runId} loaded in ${formatMs(event.summary.durationMs)}\n`);
          if (event.summary.quality) out.write(`\n${gateText(event.summary.quality, verbosity, qualityTable)}\n`);
          break;
      }
    },
    error(_kind, message) {
      clear();
      err.write(`ingesta: error: ${message}\n`);
    },
    info(message) {
      out.write(`${message}\n`);
    },
  };
}
