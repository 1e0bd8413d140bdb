import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckQuery } from '../helpers/duckdb.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * Regression (issue #13, item 5): a catalog primary key over source columns that hold NULLs duplicated those rows on
 * every incremental run (`=` never matches NULL, in the merge or the key diff). The run now refuses such a merge
 * table before anything is written (exit 4, naming the table, the key and the rows); the gate's duplicates check
 * reports NULL keys of the tables it checks.
 */

let db: TestDatabase;
let dir: string;
let catalog: string;
const DATASET = 'raw_nullkeys';

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-nullkeys-'));
  catalog = path.join(dir, 'c.yaml');
  writeFileSync(
    catalog,
    [
      'version: 1',
      'tables:',
      '  lines:',
      '    primary_key: [order_id, line_no]',
      '    write_disposition: merge',
      '    incremental: { cursor_column: updated_at }',
      '  tags:',
      '    primary_key: [tag]',
      '  events:',
      '    primary_key: [event_id]',
      '    write_disposition: merge',
      '    incremental: { cursor_column: updated_at }',
      '',
    ].join('\n'),
  );
  // no key in the source: the catalog declares one, and three rows have a NULL in it
  await db.query(`CREATE TABLE lines (order_id int, line_no int, amount numeric(10,2), updated_at timestamptz)`);
  await db.query(`INSERT INTO lines SELECT i / 3, i % 3, i, now() FROM generate_series(3, 32) i`);
  await db.query(`INSERT INTO lines VALUES (NULL, 1, 1, now()), (NULL, 2, 2, now()), (50, NULL, 3, now())`);
  await db.query(`CREATE TABLE events (event_id int, payload text, updated_at timestamptz)`);
  await db.query(`CREATE INDEX ON events (updated_at)`);
  await db.query(`INSERT INTO events SELECT i, 'e' || i, now() - interval '1 hour' FROM generate_series(1, 20) i`);
  await db.query(`CREATE TABLE tags (tag text, label text)`);
  await db.query(`INSERT INTO tags VALUES ('a', 'A'), (NULL, 'none'), (NULL, 'none either')`);
});

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('NULL in a declared primary key', () => {
  it('a merge table is refused before anything is written: exit 4 naming table, key and rows (regression: duplicated on every run)', async () => {
    const file = path.join(dir, 'merge.duckdb');
    const ingest = () => runCli(['--env', 'local', '--duckdb-path', file, '--catalog', catalog, '--dataset', DATASET, '--tables', 'lines'], { DATABASE_URL: db.url });
    const first = await ingest();
    const second = await ingest();
    // the old behaviour, for the record: the NULL-key rows were there twice after the second run
    if (first.code === 0) {
      const [row] = await duckQuery(file, `SELECT count(*)::INT AS n FROM ${DATASET}.lines`);
      expect(row!.n, 'rows in the destination after two runs').toBe(33);
    }
    for (const r of [first, second]) {
      expect(r.code, r.stdout + r.stderr).toBe(4);
      expect(r.stderr).toMatch(/table public\.lines: 3 rows have a NULL in the key \(order_id, line_no\)/);
      expect(r.stderr).toMatch(/Nothing was loaded; the destination is unchanged/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    // nothing was created: the run failed before the destination was written
    await expect(duckQuery(file, `SELECT count(*) FROM ${DATASET}.lines`)).rejects.toThrow();
    // once the key is filled the table loads, and stays exact run after run
    await db.query(`UPDATE lines SET order_id = 100 + line_no WHERE order_id IS NULL`);
    await db.query(`UPDATE lines SET line_no = 9 WHERE line_no IS NULL`);
    for (let i = 0; i < 2; i += 1) {
      const r = await ingest();
      expect(r.code, r.stderr).toBe(0);
    }
    const [row] = await duckQuery(file, `SELECT count(*)::INT AS n FROM ${DATASET}.lines`);
    expect(row!.n).toBe(33);
  });

  it('a replace table loads as it is, and the gate reports its NULL keys (duplicates: fail)', async () => {
    const file = path.join(dir, 'replace.duckdb');
    const json = path.join(dir, 'report.json');
    const r = await runCli(['--env', 'local', '--duckdb-path', file, '--catalog', catalog, '--dataset', DATASET, '--tables', 'tags', '--validate', '--report-json', json], {
      DATABASE_URL: db.url,
    });
    expect(r.code, r.stdout + r.stderr).toBe(6);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { checks: { check: string; table: string; status: string; message: string }[] };
    const dup = report.checks.find((c) => c.check === 'duplicates' && c.table === 'tags');
    expect(dup).toMatchObject({ status: 'fail', message: expect.stringContaining('2 rows with a NULL in tag') });
  });

  it('an incremental run without reconciliation counts NULL keys among the rows it reads (regression: every run scanned the whole source table)', async () => {
    const file = path.join(dir, 'window.duckdb');
    const ingest = (...extra: string[]) =>
      runCli(['--env', 'local', '--duckdb-path', file, '--catalog', catalog, '--dataset', DATASET, '--tables', 'events', '--lag', '0', ...extra], { DATABASE_URL: db.url });
    const first = await ingest();
    expect(first.code, first.stderr).toBe(0);
    // a NULL-key row whose cursor lies before the stored cursor: an incremental read never reads it, so it cannot be
    // added again; only a run that reads or compares every key (a full read, key reconciliation) must refuse it
    await db.query(`INSERT INTO events VALUES (NULL, 'old', now() - interval '10 days')`);
    await db.query(`UPDATE events SET payload = 'changed', updated_at = now() WHERE event_id = 3`);
    const windowed = await ingest('--no-reconcile');
    expect(windowed.code, windowed.stdout + windowed.stderr).toBe(0);
    const rows = await duckQuery(file, `SELECT count(*)::INT AS n, count(*) FILTER (WHERE payload = 'changed')::INT AS changed FROM ${DATASET}.events`);
    expect(rows[0]).toEqual({ n: 20, changed: 1 });
    // the automatic reconciliation would fetch the row by key on every run: the whole table is counted, and refused
    const reconciling = await ingest();
    expect(reconciling.code, reconciling.stdout + reconciling.stderr).toBe(4);
    expect(reconciling.stderr).toMatch(/table public\.events: 1 row has a NULL in the key \(event_id\)/);
    // inside the window the row would be read: refused without reconciliation too
    await db.query(`UPDATE events SET updated_at = now() WHERE event_id IS NULL`);
    const inWindow = await ingest('--no-reconcile');
    expect(inWindow.code, inWindow.stdout + inWindow.stderr).toBe(4);
    expect(inWindow.stderr).toMatch(/table public\.events: 1 row has a NULL in the key \(event_id\)/);
    const after = await duckQuery(file, `SELECT count(*)::INT AS n FROM ${DATASET}.events`);
    expect(after[0]!.n).toBe(20);
  });
});
