import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckQuery, duckTable } from '../helpers/duckdb.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * Failures that looked like success: a full package disk partway through a large table, and any run whose promise
 * never settles, must end with a non-zero exit and one clear line (never status 0 with no message).
 */
const DATASET = 'disk_full';
let db: TestDatabase;
let dir: string;
let mounted: string | undefined;
let mountError: string | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  // ~41 MB of CSV
  await db.query(`CREATE TABLE big (id int PRIMARY KEY, payload text)`);
  await db.query(`INSERT INTO big SELECT g, repeat(md5(g::text), 13) FROM generate_series(1, 100000) g`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-disk-full-'));
  const target = path.join(dir, 'packages-3m');
  mkdirSync(target);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', target], { stdio: 'pipe' });
    mounted = target;
  } catch (error) {
    mountError = String((error as { stderr?: Buffer }).stderr ?? error);
  }
});

afterAll(async () => {
  if (mounted) execFileSync('umount', ['-l', mounted], { stdio: 'ignore' });
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ingest = (file: string, args: string[], env: Record<string, string> = {}) =>
  runCli(['--env', 'local', '--duckdb-path', file, '--dataset', DATASET, '--tables', 'big', ...args], { DATABASE_URL: db.url, ...env });

describe('a full package disk partway through a large table', () => {
  it('exits 5 with one line naming the full disk (regression: exit 0, no error, no summary, the run recorded as failed)', async (ctx) => {
    if (!mounted) ctx.skip(`cannot mount a tmpfs here (${mountError}); run the test as root`);
    const file = path.join(dir, 'big.duckdb');
    const first = await ingest(file, ['--package-dir', path.join(dir, 'roomy')]);
    expect(first.code, first.stderr).toBe(0);

    const r = await ingest(file, ['--package-dir', mounted!]);
    expect(r.code, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(5);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toContain('the disk is full (ENOSPC)');
    expect(r.stderr).toContain('--package-dir');
    const runs = await duckQuery(file, `SELECT status FROM ${duckTable(file, DATASET, '_ingesta_runs')} ORDER BY run_id`);
    expect(runs.map((x) => x.status)).toEqual(['loaded', 'failed']);
    // the partial package is gone, and the disk is free again
    const left = existsSync(mounted!) ? readdirSync(mounted!, { recursive: true }).filter((f) => String(f).endsWith('.csv')) : [];
    expect(left).toEqual([]);
  });
});

describe('the CLI never passes a run that did not settle for a success', () => {
  it('a run whose promise never settles exits 1 with one line (regression: Node drained its event loop and exited 0, silently)', async () => {
    const file = path.join(dir, 'stall.duckdb');
    const r = await ingest(file, [], { INGESTA_STALL_AT: 'run-start' });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toContain('the run stopped before finishing');
    expect(r.stdout).not.toContain('loaded in');
  });
});
