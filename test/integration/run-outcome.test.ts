import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckQuery, duckTable, expectTableEqualsSource } from '../helpers/duckdb.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';

/**
 * What the run history and the exit code say about a run: a committed load is a success even when a step after the
 * commit fails; a failed run is recorded with when it started and the snapshot it read.
 */
const DATASET = 'run_outcome';
let db: TestDatabase;
let dir: string;
let fullDisk: string | undefined;
let readOnly: string | undefined;
let mountError: string | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDataVision(db, 20);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-outcome-'));
  const target = path.join(dir, 'full-packages');
  mkdirSync(target);
  try {
    // a package folder on a disk that is already full: the run fails after its snapshot was taken
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', target], { stdio: 'pipe' });
    fullDisk = target;
    try {
      writeFileSync(path.join(target, 'filler'), Buffer.alloc(1 << 20));
    } catch {
      /* ENOSPC: full, as wanted */
    }
    const ro = path.join(dir, 'ro-packages');
    mkdirSync(ro);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro], { stdio: 'pipe' });
    readOnly = ro;
  } catch (error) {
    mountError = String((error as { stderr?: Buffer }).stderr ?? error);
  }
});

afterAll(async () => {
  for (const m of [fullDisk, readOnly]) if (m) execFileSync('umount', ['-l', m], { stdio: 'ignore' });
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ingest = (file: string, args: string[] = []) =>
  runCli(['--env', 'local', '--duckdb-path', file, '--dataset', DATASET, '--tables', 'accounts,contents', ...args], { DATABASE_URL: db.url });

describe('a step after the commit fails', () => {
  it('an unwritable schema export folder: exit 0 and one warning line, the run recorded as loaded (regression: exit 5 for a committed load)', async () => {
    const file = path.join(dir, 'export.duckdb');
    const blocker = path.join(dir, 'not-a-folder');
    writeFileSync(blocker, 'a file where the export folder should be');
    const r = await ingest(file, ['--schema-export', path.join(blocker, 'export')]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stderr).toBe('');
    const warnings = r.stdout.split('\n').filter((l) => l.startsWith('warning:'));
    expect(warnings, r.stdout).toHaveLength(1);
    expect(warnings[0]).toContain('committed, but the schema export was not written');
    expect(warnings[0]).toContain('--schema-export');
    const runs = await duckQuery(file, `SELECT status FROM ${duckTable(file, DATASET, '_ingesta_runs')}`);
    expect(runs.map((x) => x.status)).toEqual(['loaded']);
    await expectTableEqualsSource(db, file, DATASET, 'accounts', ['account_id']);
  });
});

describe('a failed run in the run history', () => {
  it('DuckDB: the failed run has started_at and snapshot_at (regression: both NULL)', async (ctx) => {
    if (!fullDisk) ctx.skip(`cannot mount a tmpfs here (${mountError}); run the test as root`);
    const file = path.join(dir, 'failed.duckdb');
    const first = await ingest(file);
    expect(first.code, first.stderr).toBe(0);
    const before = new Date();
    const r = await ingest(file, ['--package-dir', fullDisk!]);
    expect(r.code, r.stderr).toBe(5);
    const snapshot = /source snapshot at (.+)/.exec(r.stdout)?.[1];
    expect(snapshot, r.stdout).toBeDefined();
    const [failed] = await duckQuery(
      file,
      `SELECT CAST(started_at AS VARCHAR) AS started_at, CAST(snapshot_at AS VARCHAR) AS snapshot_at, started_at <= finished_at AS ordered,
              CAST(epoch_ms(started_at) AS DOUBLE) AS started_ms
       FROM ${duckTable(file, DATASET, '_ingesta_runs')} WHERE status = 'failed'`,
    );
    expect(failed?.started_at, JSON.stringify(failed)).not.toBeNull();
    expect(failed?.snapshot_at, JSON.stringify(failed)).not.toBeNull();
    expect(failed?.ordered).toBe(true);
    expect(Number(failed?.started_ms)).toBeGreaterThanOrEqual(before.getTime() - 1000);
    // the same instant as the run printed (PostgreSQL text, UTC)
    const [same] = await duckQuery(file, `SELECT '${snapshot}'::TIMESTAMPTZ = '${String(failed?.snapshot_at)}'::TIMESTAMPTZ AS same`);
    expect(same?.same).toBe(true);
  });

  it('dev/prod: the failed run record has started_at and snapshot_at (regression: neither was written)', async (ctx) => {
    if (!fullDisk) ctx.skip(`cannot mount a tmpfs here (${mountError}); run the test as root`);
    const lake: Lakehouse = await startLakehouse(path.join(dir, 'lake'));
    try {
      const env = lake.env(db.url, { INGESTA_PACKAGE_DIR: fullDisk!, INGESTA_DATASET: 'run_outcome_dev' });
      const r = await runCli(['--env', 'dev', '--tables', 'accounts'], env);
      expect(r.code, r.stderr).toBe(5);
      const listed = await lake.s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'raw/run_outcome_dev/_ingesta/runs/' }));
      const keys = (listed.Contents ?? []).map((o) => o.Key!);
      expect(keys).toHaveLength(1);
      const record = JSON.parse(await (await lake.s3.send(new GetObjectCommand({ Bucket: 'lake', Key: keys[0]! }))).Body!.transformToString()) as Record<string, unknown>;
      expect(record.status).toBe('failed');
      expect(typeof record.started_at, JSON.stringify(record)).toBe('string');
      expect(typeof record.snapshot_at, JSON.stringify(record)).toBe('string');
      expect(Date.parse(String(record.started_at))).toBeLessThanOrEqual(Date.parse(String(record.finished_at)));
    } finally {
      await lake.stop();
    }
  });
});

describe('a package folder that cannot be created', () => {
  it('on a read-only file system: exit 5 saying so (regression: exit 1, "unexpected error: ENOENT")', async (ctx) => {
    if (!readOnly) ctx.skip(`cannot mount a tmpfs here (${mountError}); run the test as root`);
    const file = path.join(dir, 'ro.duckdb');
    const r = await ingest(file, ['--package-dir', path.join(readOnly!, 'packages')]);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(r.stderr).toContain('the file system is read-only (EROFS)');
    expect(r.stderr).toContain('--package-dir');
  });
});
