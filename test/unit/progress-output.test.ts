import { afterEach, describe, expect, it, vi } from 'vitest';
import { resolveProgress } from '../../src/config/cli-settings.js';
import { formatSeconds } from '../../src/cli/format.js';
import { createRenderer } from '../../src/cli/output.js';
import { progressView } from '../../src/cli/progress-line.js';
import type { PipelineEvent } from '../../src/pipeline/events.js';
import { countNewlines, extractFigures } from '../../src/pipeline/progress.js';
import { withHeartbeat } from '../../src/pipeline/phase-progress.js';

/** A stream that keeps what is written to it. */
function sink(columns?: number, isTTY = false) {
  const s = { text: '', columns, isTTY, write: (chunk: string) => ((s.text += chunk), true) };
  return s;
}
const asStream = (s: ReturnType<typeof sink>) => s as unknown as NodeJS.WriteStream;
const progress = (table: string, rows: number, ms: number, estimate: number | null): PipelineEvent => ({ type: 'extract_progress', table, ...extractFigures(rows, rows * 50, ms, estimate) });

afterEach(() => {
  vi.useRealTimers();
});

describe('counting and estimating while the COPY streams', () => {
  it('counts CSV records as newlines, across chunk boundaries (a quoted newline counts too: the final count is the COPY\'s)', () => {
    expect(countNewlines(Buffer.from(''))).toBe(0);
    expect(countNewlines(Buffer.from('1,a\n2,b\n3,"two\nlines"\n'))).toBe(4);
    expect(countNewlines(Buffer.from('\n\n'))).toBe(2);
    expect(countNewlines(Buffer.from('no newline'))).toBe(0);
  });

  it('percent, rate and ETA from the estimate; never 100 % before the end; none without an estimate or past it', () => {
    expect(extractFigures(250_000, 1000, 2000, 1_000_000)).toEqual({ rows: 250_000, bytes: 1000, ms: 2000, estimatedRows: 1_000_000, rowsPerSecond: 125_000, percent: 25, etaSeconds: 6 });
    expect(extractFigures(999_999, 0, 1000, 1_000_000).percent).toBe(99);
    expect(extractFigures(1_000_001, 0, 1000, 1_000_000)).toMatchObject({ percent: null, etaSeconds: null, rowsPerSecond: 1_000_001 });
    expect(extractFigures(10, 0, 1000, null)).toMatchObject({ percent: null, etaSeconds: null, rowsPerSecond: 10 });
    expect(extractFigures(0, 0, 0, 100)).toMatchObject({ rowsPerSecond: 0, percent: 0, etaSeconds: null });
  });

  it('formats times left', () => {
    expect([formatSeconds(0.4), formatSeconds(42), formatSeconds(185), formatSeconds(7620)]).toEqual(['0 s', '42 s', '3 min 05 s', '2 h 07 min']);
  });
});

describe('the live lines on a terminal', () => {
  it('one line per table in progress, redrawn in place; permanent lines erase them first; cut to the terminal width', () => {
    let now = 0;
    const err = sink(60);
    const out = sink();
    const view = progressView('live', asStream(err), (l) => out.write(l), 10_000, () => now);
    view.event({ type: 'extract_started', table: 'orders', mode: 'full', filter: undefined, estimatedRows: 1_000_000 });
    expect(err.text).toBe('  orders  reading (full)… ~1,000,000 rows estimated');
    now = 200;
    view.event({ type: 'extract_started', table: 'customers', mode: 'incremental', filter: 'x', estimatedRows: null });
    now = 2000;
    err.text = '';
    view.event(progress('orders', 400_000, 2000, 1_000_000));
    // two lines were drawn: the last cleared, the cursor up one line and that cleared, then both drawn again
    expect(err.text).toBe('\r\x1b[2K\x1b[1A\x1b[2K  orders  400,000 / ~1,000,000 rows  40%  200,000 rows/s  …\n  customers  reading (incremental)…');
    err.text = '';
    now = 2050; // within 100 ms of the last draw: a progress event waits for the next
    view.event(progress('customers', 5000, 1850, null));
    expect(err.text).toBe('');
    now = 2300;
    view.event(progress('customers', 9000, 2100, null));
    expect(err.text.split('\n')[1]).toBe('  customers  9,000 rows  4,286 rows/s  439.5 KB');
    // a permanent line: live lines erased on stderr, the line on stdout, the live lines drawn again
    err.text = '';
    view.around(() => out.write('warning: something\n'));
    expect(out.text).toBe('warning: something\n');
    expect(err.text.startsWith('\r\x1b[2K\x1b[1A\x1b[2K')).toBe(true);
    expect(err.text.endsWith('  customers  9,000 rows  4,286 rows/s  439.5 KB')).toBe(true);
    // the phases after extraction
    view.event({ type: 'extract_finished', table: 'orders', rows: 1_000_000, bytes: 1, ms: 1 });
    view.event({ type: 'extract_finished', table: 'customers', rows: 9_000, bytes: 1, ms: 1 });
    now = 3000;
    view.event({ type: 'table_load_started', table: 'orders' });
    now = 5500;
    err.text = '';
    view.event({ type: 'commit_started', tables: 2, loading: false });
    expect(err.text).toBe('\r\x1b[2K  orders  loading into the destination… 3 s\n  committing 2 tables… 0 s');
    view.event({ type: 'table_load_finished', table: 'orders', ms: 2500 });
    err.text = '';
    view.event({ type: 'commit_finished', tables: 2, ms: 10 });
    expect(err.text).toBe('\r\x1b[2K');
    view.event({ type: 'quality_started', checks: 31 });
    expect(err.text.endsWith('  quality gate: 31 checks… 0 s')).toBe(true);
    view.stop();
    expect(out.text).not.toMatch(/\r/);
  });

  it('a destination that loads while it commits (Athena) says so; elapsed time is redrawn while nothing else happens', () => {
    vi.useFakeTimers();
    const err = sink(100);
    const view = progressView('live', asStream(err), () => undefined, 10_000, () => Date.now());
    view.event({ type: 'commit_started', tables: 3, loading: true });
    vi.advanceTimersByTime(2100);
    expect(err.text.endsWith('  loading and committing 3 tables… 2 s')).toBe(true);
    view.stop();
    expect(err.text.endsWith('\r\x1b[2K')).toBe(true);
  });
});

describe('heartbeats of the long phases (load, commit, key scan, backfill, counts)', () => {
  it('withHeartbeat: a phase_progress every interval while the work lasts, none after; rows from the worker when it can tell', async () => {
    vi.useFakeTimers();
    const events: PipelineEvent[] = [];
    let done: { rows: number | null; percent: number | null } | null = null;
    let finish: () => void = () => undefined;
    const work = withHeartbeat({ emit: (e) => events.push(e), intervalMs: 5000 }, 'load', 'orders', () => done, () => new Promise<void>((r) => (finish = r)));
    vi.advanceTimersByTime(4999);
    expect(events).toEqual([]);
    vi.advanceTimersByTime(1);
    done = { rows: 1234, percent: 40 };
    vi.advanceTimersByTime(5000);
    expect(events).toEqual([
      { type: 'phase_progress', phase: 'load', table: 'orders', ms: 5000, rows: null, percent: null },
      { type: 'phase_progress', phase: 'load', table: 'orders', ms: 10_000, rows: 1234, percent: 40 },
    ]);
    finish();
    await work;
    vi.advanceTimersByTime(60_000);
    expect(events).toHaveLength(2);
  });

  it('the live lines show the rows a heartbeat told, for the load, the commit and the table phases', () => {
    let now = 0;
    const err = sink(120);
    const view = progressView('live', asStream(err), () => undefined, 10_000, () => now);
    view.event({ type: 'table_load_started', table: 'orders' });
    view.event({ type: 'phase_started', phase: 'key_scan', table: 'items', estimatedRows: 2_000_000 });
    now = 12_000;
    view.event({ type: 'phase_progress', phase: 'load', table: 'orders', ms: 12_000, rows: null, percent: 41 });
    view.event({ type: 'phase_progress', phase: 'key_scan', table: 'items', ms: 12_000, rows: 900_000, percent: null });
    expect(err.text.split(/\r\x1b\[2K(?:\x1b\[1A\x1b\[2K)*/).pop()).toBe(
      '  orders  loading into the destination… 12 s  41%\n  items  scanning keys (reconciliation)… 12 s  900,000 / ~2,000,000 rows',
    );
    view.event({ type: 'phase_finished', phase: 'key_scan', table: 'items', rows: 2_000_000, ms: 12_500 });
    view.event({ type: 'table_load_finished', table: 'orders', ms: 12_500 });
    view.event({ type: 'commit_started', tables: 1, loading: false });
    now = 42_000;
    view.event({ type: 'phase_progress', phase: 'commit', ms: 30_000, rows: null, percent: null });
    expect(err.text.endsWith('\r\x1b[2K  committing 1 table… 30 s')).toBe(true);
    view.event({ type: 'phase_started', phase: 'source_count', table: 'items', estimatedRows: null });
    expect(err.text.endsWith('  items  counting source rows… 0 s')).toBe(true);
    view.event({ type: 'phase_finished', phase: 'source_count', table: 'items', rows: 1, ms: 1 });
    view.event({ type: 'phase_started', phase: 'key_diff', table: 'items', estimatedRows: null });
    view.event({ type: 'phase_progress', phase: 'key_diff', table: 'items', ms: 1000, rows: 300, percent: null });
    expect(err.text.endsWith('  items  comparing keys and re-reading rows (reconciliation)… 0 s  300 rows')).toBe(true);
    view.stop();
  });
});

describe('plain progress lines (a log file, CI)', () => {
  it('a table still in progress gets a line after the interval and one per interval after that; no carriage return or escape', () => {
    vi.useFakeTimers();
    const lines: string[] = [];
    const view = progressView('plain', asStream(sink()), (l) => lines.push(l), 10_000, () => Date.now());
    view.event({ type: 'extract_started', table: 'orders', mode: 'full', filter: undefined, estimatedRows: 1_000_000 });
    view.event(progress('orders', 100_000, 1000, 1_000_000));
    vi.advanceTimersByTime(9000);
    expect(lines).toEqual([]);
    vi.advanceTimersByTime(1500);
    expect(lines).toEqual(['  orders  100,000 / ~1,000,000 rows  10%  100,000 rows/s  ETA 9 s  4.8 MB\n']);
    vi.advanceTimersByTime(9000);
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(1500);
    expect(lines).toHaveLength(2);
    view.event({ type: 'extract_finished', table: 'orders', rows: 1_000_000, bytes: 1, ms: 1 });
    vi.advanceTimersByTime(60_000);
    expect(lines).toHaveLength(2);
    expect(lines.join('')).not.toMatch(/[\r\x1b]/);
  });
});

describe('how progress is rendered per output', () => {
  it('JSON: extract_progress at most once a second per table (another table\'s is not held back); phase events always', () => {
    vi.useFakeTimers();
    const out = sink();
    const r = createRenderer('json', 'normal', asStream(out), asStream(sink()));
    r.event(progress('a', 1, 10, null));
    r.event(progress('b', 1, 10, null));
    vi.advanceTimersByTime(500);
    r.event(progress('a', 2, 510, null));
    r.event({ type: 'commit_started', tables: 2, loading: false });
    vi.advanceTimersByTime(600);
    r.event(progress('a', 3, 1110, null));
    const events = out.text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; table?: string; rows?: number });
    expect(events.map((e) => `${e.type}:${e.table ?? ''}:${e.rows ?? ''}`)).toEqual(['extract_progress:a:1', 'extract_progress:b:1', 'commit_started::', 'extract_progress:a:3']);
  });

  it('text: auto is live when stderr is a terminal, plain otherwise; -q shows no progress at all', () => {
    const started: PipelineEvent = { type: 'extract_started', table: 't', mode: 'full', filter: undefined, estimatedRows: null };
    const tty = sink(80, true);
    createRenderer('text', 'normal', asStream(sink()), asStream(tty)).event(started);
    expect(tty.text).toBe('  t  reading (full)…');
    const quiet = sink(80, true);
    createRenderer('text', 'quiet', asStream(sink()), asStream(quiet)).event(started);
    expect(quiet.text).toBe('');
    const piped = sink();
    createRenderer('text', 'normal', asStream(sink()), asStream(piped)).event(started);
    expect(piped.text).toBe('');
  });

  it('--progress / INGESTA_PROGRESS and INGESTA_PROGRESS_INTERVAL', () => {
    expect(resolveProgress(undefined, {})).toEqual({ mode: 'auto', intervalMs: 10_000 });
    expect(resolveProgress('plain', { INGESTA_PROGRESS: 'live', INGESTA_PROGRESS_INTERVAL: '30s' })).toEqual({ mode: 'plain', intervalMs: 30_000 });
    expect(resolveProgress(undefined, { INGESTA_PROGRESS: 'off' }).mode).toBe('off');
    expect(() => resolveProgress(undefined, { INGESTA_PROGRESS: 'yes' })).toThrow(/INGESTA_PROGRESS must be auto, live, plain or off, not "yes"/);
    expect(() => resolveProgress(undefined, { INGESTA_PROGRESS_INTERVAL: 'often' })).toThrow(/INGESTA_PROGRESS_INTERVAL "often" is not a duration/);
    expect(() => resolveProgress(undefined, { INGESTA_PROGRESS_INTERVAL: '0' })).toThrow(/INGESTA_PROGRESS_INTERVAL must be more than 0/);
  });
});
