import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckQuery } from '../helpers/duckdb.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * Two source columns differing only in case (`Name`, `name`) are loaded as name and name__2. When the source drops
 * `Name`, `name` alone maps to name — the destination column holding `Name`'s values.
 * Regression: a merge table was merged on: the rows of the batch got `name`'s values in name, the older rows kept
 * `Name`'s there (and name__2 kept stale values, "no longer exists in the source"), exit 0, in DuckDB and Athena.
 * Now the run stops before anything is written (exit 4) saying --full-refresh, which loads the table right.
 */
let db: TestDatabase;
let dir: string;
let lake: Lakehouse;
const MOVED = /Incompatible schema change: cc: source column "name" was loaded as name__2 and would now be loaded as name, which holds the values of source column "Name" .*run with --full-refresh cc\. Nothing was written\./;

beforeAll(async () => {
  db = await createTestDatabase('ingesta_case_drop');
  await db.query(`CREATE TABLE cc (id int PRIMARY KEY, updated_at timestamptz NOT NULL, "Name" text, name text)`);
  await db.query(`INSERT INTO cc VALUES (1, now() - interval '1 hour', 'UPPER1', 'lower1'), (2, now() - interval '1 hour', 'UPPER2', 'lower2')`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-case-drop-'));
  lake = await startLakehouse(dir);
  writeFileSync(path.join(dir, 'c.yaml'), ['version: 1', 'tables:', '  cc:', '    primary_key: [id]', '    write_disposition: merge', '    incremental: { cursor_column: updated_at }'].join('\n'));
}, 60_000);

afterAll(async () => {
  await lake?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a column colliding by case with one the source drops', () => {
  it('stops a merge table with exit 4 and --full-refresh, which then loads the source values (regression: name held the dropped column\'s values in older rows, exit 0)', async () => {
    const duckdbPath = path.join(dir, 'cc.duckdb');
    const local = ['--env', 'local', '--catalog', path.join(dir, 'c.yaml'), '--dataset', 'cc_local', '--duckdb-path', duckdbPath, '--lag', '0'];
    const dev = ['--env', 'dev', '--catalog', path.join(dir, 'c.yaml'), '--dataset', 'cc_dev', '--lag', '0'];
    const env = { DATABASE_URL: db.url };
    for (const args of [local, dev]) expect((await runCli(args, lake.env(db.url))).code).toBe(0);

    await db.query(`ALTER TABLE cc DROP COLUMN "Name"`);
    await db.query(`UPDATE cc SET name = 'lower2b', updated_at = now() WHERE id = 2`);

    for (const [args, runEnv] of [[local, env], [dev, lake.env(db.url)]] as const) {
      const r = await runCli([...args], runEnv);
      expect(r.code, r.stdout + r.stderr).toBe(4);
      expect(r.stderr).toMatch(MOVED);
      expect(r.stdout).not.toMatch(/no longer exists in the source/);
    }
    // nothing was written (DuckDB keeps the spelling "Name"; names compare without case)
    expect(await duckQuery(duckdbPath, 'SELECT id, "Name" AS name, name__2 FROM cc_local.cc ORDER BY id')).toEqual([
      { id: 1, name: 'UPPER1', name__2: 'lower1' },
      { id: 2, name: 'UPPER2', name__2: 'lower2' },
    ]);
    expect(await lake.athenaQuery('SELECT id, name, name__2 FROM cc_dev.cc ORDER BY id')).toEqual([
      { id: '1', name: 'UPPER1', name__2: 'lower1' },
      { id: '2', name: 'UPPER2', name__2: 'lower2' },
    ]);

    // what the message says to do
    for (const [args, runEnv] of [[local, env], [dev, lake.env(db.url)]] as const) {
      const r = await runCli([...args, '--full-refresh', 'cc'], runEnv);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    expect(await duckQuery(duckdbPath, 'SELECT id, name FROM cc_local.cc ORDER BY id')).toEqual([
      { id: 1, name: 'lower1' },
      { id: 2, name: 'lower2b' },
    ]);
    const athena = await lake.athenaQuery('SELECT id, name FROM cc_dev.cc ORDER BY id');
    expect(athena).toEqual([
      { id: '1', name: 'lower1' },
      { id: '2', name: 'lower2b' },
    ]);
    // and the runs after it merge as usual
    await db.query(`UPDATE cc SET name = 'lower1b', updated_at = now() WHERE id = 1`);
    for (const [args, runEnv] of [[local, env], [dev, lake.env(db.url)]] as const) {
      const r = await runCli([...args], runEnv);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    expect(await duckQuery(duckdbPath, 'SELECT id, name FROM cc_local.cc ORDER BY id')).toEqual([
      { id: 1, name: 'lower1b' },
      { id: 2, name: 'lower2b' },
    ]);
    expect(await lake.athenaQuery('SELECT id, name FROM cc_dev.cc ORDER BY id')).toEqual([
      { id: '1', name: 'lower1b' },
      { id: '2', name: 'lower2b' },
    ]);
  });

  it('a column renamed only by case is not refused (its new spelling had no destination column of its own)', async () => {
    await db.query(`CREATE TABLE rn (id int PRIMARY KEY, updated_at timestamptz NOT NULL, title text)`);
    await db.query(`INSERT INTO rn VALUES (1, now() - interval '1 hour', 'a')`);
    const catalog = path.join(dir, 'rn.yaml');
    writeFileSync(catalog, ['version: 1', 'tables:', '  rn:', '    primary_key: [id]', '    write_disposition: merge', '    incremental: { cursor_column: updated_at }'].join('\n'));
    const local = ['--env', 'local', '--catalog', catalog, '--dataset', 'rn_local', '--duckdb-path', path.join(dir, 'rn.duckdb'), '--lag', '0'];
    expect((await runCli(local, { DATABASE_URL: db.url })).code).toBe(0);
    await db.query(`ALTER TABLE rn RENAME COLUMN title TO "Title"`);
    await db.query(`UPDATE rn SET updated_at = now()`);
    const r = await runCli(local, { DATABASE_URL: db.url });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});
