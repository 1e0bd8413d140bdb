import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckQuery, expectTableEqualsSource } from '../helpers/duckdb.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { expectAthenaEqualsSource } from '../helpers/athena-compare.js';
import { startLakehouse } from '../helpers/lakehouse.js';

/**
 * Regression (issue #13, item 6): a column added with a DEFAULT to a merge (incremental) table is filled in every
 * existing source row, but stayed NULL in the destination's older rows (only the rows the incremental read brought
 * had it): the raw layer silently differed from the source. The run that first sees the column now reads the key and
 * the new columns of every source row inside the snapshot and merges them in the same transaction, with a line.
 */

let db: TestDatabase;
let dir: string;
let catalog: string;
let duckdbPath: string;
const DATASET = 'raw_backfill';

const ingest = (...args: string[]) =>
  runCli(['--env', 'local', '--duckdb-path', duckdbPath, '--catalog', catalog, '--dataset', DATASET, '--tables', 'acc', ...args], { DATABASE_URL: db.url });

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-backfill-'));
  duckdbPath = path.join(dir, 'b.duckdb');
  catalog = path.join(dir, 'c.yaml');
  writeFileSync(
    catalog,
    ['version: 1', 'tables:', '  acc:', '    primary_key: [id]', '    write_disposition: merge', '    incremental: { cursor_column: updated_at }', ''].join('\n'),
  );
  await db.query(`CREATE TABLE acc (id int PRIMARY KEY, name text, updated_at timestamptz)`);
  await db.query(`INSERT INTO acc SELECT i, 'a' || i, now() - interval '2 days' - i * interval '1 hour' FROM generate_series(1, 50) i`);
});

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a column added to a merge table', () => {
  it('with a DEFAULT: the older destination rows get the source values in the run that adds it (regression: NULL)', async () => {
    expect((await ingest()).code).toBe(0);
    await db.query(`ALTER TABLE acc ADD COLUMN tier text NOT NULL DEFAULT 'basic'`);
    await db.query(`ALTER TABLE acc ADD COLUMN score numeric(6,2) DEFAULT 1.50`);
    await db.query(`ALTER TABLE acc ADD COLUMN note text`);
    await db.query(`UPDATE acc SET tier = 'gold', updated_at = now() WHERE id = 1`);
    const r = await ingest();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await expectTableEqualsSource(db, duckdbPath, DATASET, 'acc', ['id']);
    expect(r.stdout).toMatch(/backfilled acc: tier, score, note \(new in the source\) read for 50 existing rows with a value/);
    const [row] = await duckQuery(duckdbPath, `SELECT count(*) FILTER (WHERE tier = 'basic')::INT AS basic, count(*) FILTER (WHERE score = 1.5)::INT AS score FROM ${DATASET}.acc`);
    expect(row).toEqual({ basic: 49, score: 50 });
    // the next run sees no new column: no backfill, still equal
    await db.query(`UPDATE acc SET note = 'later', updated_at = now() WHERE id = 2`);
    const next = await ingest();
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).not.toMatch(/backfilled/);
    await expectTableEqualsSource(db, duckdbPath, DATASET, 'acc', ['id']);
  });

  it('a failed run backfills nothing, and the next run does it (the destination still lacks the column)', async () => {
    await db.query(`ALTER TABLE acc ADD COLUMN region text DEFAULT 'eu'`);
    // the run dies after extracting (crash point): nothing is committed
    const crashed = await runCli(['--env', 'local', '--duckdb-path', duckdbPath, '--catalog', catalog, '--dataset', DATASET, '--tables', 'acc'], {
      DATABASE_URL: db.url,
      INGESTA_CRASH_AT: 'before-commit',
    });
    expect(crashed.code).not.toBe(0);
    const r = await ingest();
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await expectTableEqualsSource(db, duckdbPath, DATASET, 'acc', ['id']);
  });
});

describe('a column added to a merge table, in dev/prod (S3 + Glue + Athena)', () => {
  it('with a DEFAULT: the older Iceberg rows get the source values through a backfill MERGE (regression: NULL, with a warning)', async () => {
    const lakeDir = mkdtempSync(path.join(dir, 'lake-'));
    const lake = await startLakehouse(lakeDir);
    try {
      await db.query(`CREATE TABLE acc_dev (id int PRIMARY KEY, name text, updated_at timestamptz)`);
      await db.query(`INSERT INTO acc_dev SELECT i, 'a' || i, now() - interval '2 days' - i * interval '1 hour' FROM generate_series(1, 40) i`);
      const devCatalog = path.join(dir, 'dev.yaml');
      writeFileSync(devCatalog, ['version: 1', 'tables:', '  acc_dev:', '    primary_key: [id]', '    write_disposition: merge', '    incremental: { cursor_column: updated_at }', ''].join('\n'));
      const dev = () => runCli(['--env', 'dev', '--catalog', devCatalog, '--dataset', 'raw_backfill_dev', '--tables', 'acc_dev'], lake.env(db.url));
      expect((await dev()).code).toBe(0);
      await db.query(`ALTER TABLE acc_dev ADD COLUMN tier text NOT NULL DEFAULT 'basic'`);
      await db.query(`ALTER TABLE acc_dev ADD COLUMN seen_at timestamptz DEFAULT '2024-05-01 10:00:00.123456+00'`);
      await db.query(`UPDATE acc_dev SET tier = 'gold', updated_at = now() WHERE id = 1`);
      const r = await dev();
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(/keep NULL/);
      expect(r.stdout).toMatch(/backfilled acc_dev: tier, seen_at \(new in the source\) read for 40 existing rows/);
      await expectAthenaEqualsSource(lake, db, 'raw_backfill_dev', 'acc_dev', 'id');
      const [row] = await lake.athenaQuery(`SELECT count(*) AS n FROM "raw_backfill_dev"."acc_dev" WHERE tier = 'basic' AND seen_at = TIMESTAMP '2024-05-01 10:00:00.123456'`);
      expect(Number(row!.n)).toBe(39);
    } finally {
      await lake.stop();
    }
  });
});
