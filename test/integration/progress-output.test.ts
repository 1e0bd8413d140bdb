import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { pacedReader, type PacedReader } from '../helpers/paced-reader.js';
import { startLakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * Progress a person can watch (issue #14): a live line per table on a terminal, JSON progress events, plain lines in
 * a log. The tables are read through a row-level-security policy that pauses 0.25 s every 25,000 rows, so each read
 * takes seconds on any machine; `paced` has statistics (an estimate), `unanalyzed` has none.
 */
let db: TestDatabase;
let dir: string;
let reader: PacedReader | undefined;
let url: string;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.query(`
    CREATE TABLE paced (id bigint PRIMARY KEY, name text, amount numeric(12,2), note text);
    INSERT INTO paced SELECT g, 'name ' || g, g * 1.5, CASE WHEN g % 1000 = 0 THEN E'two\\nlines' ELSE 'x' END FROM generate_series(1, 200000) g;
    ANALYZE paced;
    CREATE TABLE unanalyzed (id bigint PRIMARY KEY, name text) WITH (autovacuum_enabled = false);
    INSERT INTO unanalyzed SELECT g, 'name ' || g FROM generate_series(1, 150000) g;`);
  reader = await pacedReader(db, 'ingesta_progress', { paced: ['paced', 'unanalyzed'], every: 25000, seconds: 0.25 });
  url = reader.url;
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-progress-'));
}, 120_000);

afterAll(async () => {
  await db?.drop();
  await reader?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const args = (...more: string[]) => ['--env', 'local', '--duckdb-path', path.join(dir, 'p.duckdb'), '--tables', 'paced', 'unanalyzed', '--full-refresh', '--no-schema-export', ...more];

/** The CLI on a pseudo-terminal (util-linux `script`), as a person at a terminal runs it: what the terminal received. */
function runOnTerminal(cliArgs: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, CLI, ...cliArgs].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, INGESTA_LOG_FORMAT: 'text', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** Every state the terminal showed: the text between carriage returns, newlines and erase / cursor-up sequences. */
const fragments = (output: string) => output.split(/\r\n|\r|\n|\x1b\[2K|\x1b\[1A/).filter((f) => f.trim() !== '');

describe('progress a person can watch', () => {
  it('on a terminal: a live line per table with rows, % of the estimate, rows/s and ETA, then the load, commit and gate phases; final figures exact', async () => {
    const r = await runOnTerminal(args('--validate'), { DATABASE_URL: url });
    expect(r.code, r.output).toBe(0);
    const shown = fragments(r.output);
    // rows against pg_class.reltuples (200,000 after ANALYZE), the share, the rate, the time left, the bytes
    expect(shown.some((f) => /^ {2}paced {2}[\d,]+ \/ ~200,000 rows {2}\d{1,2}% {2}[\d,]+ rows\/s {2}ETA \d+ (s|min \d\d s) {2}[\d.]+ (B|KB|MB)$/.test(f)), r.output).toBe(true);
    // no statistics: rows and rate, no percentage or ETA
    expect(shown.some((f) => /^ {2}unanalyzed {2}[\d,]+ rows {2}[\d,]+ rows\/s {2}[\d.]+ (B|KB|MB)$/.test(f)), r.output).toBe(true);
    expect(shown.filter((f) => /^ {2}unanalyzed .*(%|ETA)/.test(f))).toEqual([]);
    // the phases after extraction
    expect(shown.some((f) => /^ {2}paced {2}loading into the destination… \d+ s$/.test(f)), r.output).toBe(true);
    expect(shown.some((f) => /^ {2}committing 2 tables… \d+ s$/.test(f)), r.output).toBe(true);
    expect(shown).toContain('committed 2 tables in ' + /committed 2 tables in ([\d.]+ m?s)/.exec(r.output)![1]);
    expect(shown.some((f) => /^ {2}quality gate: \d+ checks… \d+ s$/.test(f)), r.output).toBe(true);
    // exact final figures (the stream's count runs ahead on the quoted newlines: the COPY's own count replaces it)
    expect(r.output).toMatch(/extracted paced: 200,000 rows/);
    expect(r.output).toMatch(/\npaced +full +200,000 /);
    expect(r.output).toMatch(/\nunanalyzed +full +150,000 /);
  });

  it('JSON lines: extract_progress per table at most once a second with increasing rows and the documented fields, then the phase events', async () => {
    const r = await runCli(args(), { DATABASE_URL: url, INGESTA_LOG_FORMAT: 'json' });
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown> & { type: string; time: string });
    const progress = events.filter((e) => e.type === 'extract_progress' && e.table === 'paced');
    expect(progress.length, r.stdout).toBeGreaterThanOrEqual(2);
    for (const [i, e] of progress.entries()) {
      expect(Object.keys(e).sort()).toEqual(['bytes', 'estimatedRows', 'etaSeconds', 'ms', 'percent', 'rows', 'rowsPerSecond', 'runId', 'table', 'time', 'type']);
      expect(e.estimatedRows).toBe(200_000);
      // the stream's count runs ahead on quoted newlines: past the estimate, % and ETA are withheld (null), never > 99
      if ((e.rows as number) <= 200_000) {
        expect(e.percent).toBeGreaterThanOrEqual(0);
        expect(e.percent).toBeLessThanOrEqual(99);
      } else expect(e.percent).toBeNull();
      expect(e.rowsPerSecond).toBeGreaterThan(0);
      if (i > 0) {
        const previous = progress[i - 1]!;
        expect(e.rows).toBeGreaterThan(previous.rows as number);
        expect(e.bytes).toBeGreaterThan(previous.bytes as number);
        expect(Date.parse(e.time) - Date.parse(previous.time)).toBeGreaterThanOrEqual(900);
      }
    }
    const unknown = events.filter((e) => e.type === 'extract_progress' && e.table === 'unanalyzed');
    expect(unknown.length).toBeGreaterThanOrEqual(1);
    expect(unknown.every((e) => e.estimatedRows === null && e.percent === null && e.etaSeconds === null)).toBe(true);
    const started = events.find((e) => e.type === 'extract_started' && e.table === 'paced')!;
    expect(started.estimatedRows).toBe(200_000);
    expect(events.find((e) => e.type === 'extract_finished' && e.table === 'paced')!.rows).toBe(200_000);
    const phases = events.map((e) => (e.table === 'paced' || !e.table ? e.type : '')).filter((t) => /^(extract_finished|table_load_started|table_load_finished|commit_started|commit_finished|run_finished)$/.test(t));
    expect(phases).toEqual(['extract_finished', 'table_load_started', 'table_load_finished', 'commit_started', 'commit_finished', 'run_finished']);
    const commit = events.find((e) => e.type === 'commit_finished')!;
    expect(commit).toMatchObject({ tables: 2 });
    expect(typeof commit.ms).toBe('number');
  });

  it('not a terminal (a log file): plain progress lines at the interval, no carriage return or escape; -q prints none', async () => {
    const r = await runCli(args('--log-format', 'text'), { DATABASE_URL: url, INGESTA_PROGRESS_INTERVAL: '1s' });
    expect(r.code, r.stderr).toBe(0);
    const all = r.stdout + r.stderr;
    expect(all).not.toMatch(/[\r\x1b]/);
    const lines = r.stdout.split('\n');
    expect(lines.some((l) => /^ {2}paced {2}[\d,]+ \/ ~200,000 rows {2}\d{1,2}% {2}[\d,]+ rows\/s {2}ETA /.test(l)), r.stdout).toBe(true);
    expect(lines.some((l) => /^ {2}unanalyzed {2}[\d,]+ rows {2}[\d,]+ rows\/s /.test(l)), r.stdout).toBe(true);
    // a low rate: a table's lines at least the interval apart (2 s of pauses: at most 3 or so)
    expect(lines.filter((l) => /^ {2}paced {2}[\d,]+ /.test(l)).length).toBeLessThanOrEqual(4);
    expect(lines).toContain('committed 2 tables in ' + /committed 2 tables in ([\d.]+ m?s)/.exec(r.stdout)![1]);

    const quiet = await runCli(args('--log-format', 'text', '-q'), { DATABASE_URL: url, INGESTA_PROGRESS_INTERVAL: '1s' });
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout + quiet.stderr).not.toMatch(/[\r\x1b]|rows\/s|committed|loading/);
    expect(quiet.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('--progress live draws on a stream that is no terminal (INGESTA_PROGRESS=off: nothing); a bad value is a configuration error', async () => {
    const live = await runCli(args('--log-format', 'text', '--progress', 'live'), { DATABASE_URL: url });
    expect(live.code, live.stderr).toBe(0);
    expect(fragments(live.stderr).some((f) => /^ {2}paced {2}[\d,]+ \/ ~200,000 rows {2}\d{1,2}%/.test(f)), live.stderr).toBe(true);
    expect(live.stdout).not.toMatch(/\r/);
    const off = await runCli(args('--log-format', 'text'), { DATABASE_URL: url, INGESTA_PROGRESS: 'off', INGESTA_PROGRESS_INTERVAL: '1s' });
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout + off.stderr).not.toMatch(/rows\/s {2}/);
    const bad = await runCli(args('--progress', 'sometimes'), { DATABASE_URL: url });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--progress must be auto, live, plain or off, not "sometimes"/);
  });

  it('dev/prod (S3 + Athena stand-in): the load and commit are one phase, commit_started says loading: true', async () => {
    const lake = await startLakehouse(path.join(dir, 'lake'));
    try {
      const r = await runCli(['--env', 'dev', '--dataset', 'progress_t', '--tables', 'unanalyzed', '--no-schema-export'], { ...lake.env(url), INGESTA_LOG_FORMAT: 'json' }, dir);
      expect(r.code, r.stderr).toBe(0);
      const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown> & { type: string });
      const types = events.map((e) => e.type).filter((t) => /^(extract_finished|load_started|table_load_started|commit_started|table_loaded|commit_finished|run_finished)$/.test(t));
      expect(types).toEqual(['extract_finished', 'load_started', 'commit_started', 'table_loaded', 'commit_finished', 'run_finished']);
      expect(events.find((e) => e.type === 'commit_started')).toMatchObject({ tables: 1, loading: true });
      expect(events.some((e) => e.type === 'extract_progress' && e.table === 'unanalyzed' && e.estimatedRows === null)).toBe(true);
    } finally {
      await lake.stop();
    }
  });
});
