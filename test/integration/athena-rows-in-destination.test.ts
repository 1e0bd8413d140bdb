import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * The run's summary and its `table_loaded` event say how many rows each table holds after the load.
 * Regression: on Athena a merge (Iceberg) table reported its batch — 1 row merged into a 3-row table showed
 * "rows in destination 1" (and rowsInDestination 1), exit 0. It is now counted in Athena once the tables are published.
 */
let db: TestDatabase;
let dir: string;
let lake: Lakehouse;

beforeAll(async () => {
  db = await createTestDatabase('ingesta_rows_dest');
  await db.query(`CREATE TABLE m (id int PRIMARY KEY, updated_at timestamptz NOT NULL, v text)`);
  await db.query(`INSERT INTO m SELECT g, now() - make_interval(hours => 4 - g), 'v' || g FROM generate_series(1, 3) g`);
  await db.query(`CREATE TABLE f (id int PRIMARY KEY)`);
  await db.query(`INSERT INTO f VALUES (1), (2)`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-rows-dest-'));
  lake = await startLakehouse(dir);
  writeFileSync(
    path.join(dir, 'c.yaml'),
    ['version: 1', 'tables:', '  m:', '    primary_key: [id]', '    write_disposition: merge', '    incremental: { cursor_column: updated_at }', '  f:', '    primary_key: [id]'].join('\n'),
  );
}, 60_000);

afterAll(async () => {
  await lake?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Loaded {
  type: string;
  table: string;
  rowsLoaded: number;
  rowsInDestination: number;
}

describe('Athena: rows in the destination after a load', () => {
  it('a merge table reports the rows it holds, not its batch (regression: "rows in destination 1" for a 3-row table)', async () => {
    const args = ['--env', 'dev', '--catalog', path.join(dir, 'c.yaml'), '--dataset', 'rows_dev', '--lag', '0'];
    expect((await runCli(args, lake.env(db.url))).code).toBe(0);
    await db.query(`UPDATE m SET v = 'changed', updated_at = now() WHERE id = 2`);
    await db.query(`INSERT INTO m VALUES (4, now(), 'v4')`);

    const json = await runCli([...args, '--log-format', 'json'], lake.env(db.url));
    expect(json.code, json.stdout + json.stderr).toBe(0);
    const loaded = json.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Loaded)
      .filter((e) => e.type === 'table_loaded')
      .map((e) => [e.table, e.rowsLoaded, e.rowsInDestination]);
    expect(loaded.sort()).toEqual([
      ['f', 2, 2],
      ['m', 3, 4], // 2 and 4, and 3 read again (it was at the cursor)
    ]);

    // nothing changed: the batch is the row at the cursor (4), read again; the table still holds its 4 rows
    const text = await runCli(args, lake.env(db.url));
    expect(text.code, text.stdout + text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^m\s+incremental\s+1\s+\S+ B\s+4\s/m);
    expect(await lake.athenaQuery('SELECT count(*) AS n FROM rows_dev.m')).toEqual([{ n: '4' }]);
  });
});
