import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * Regression (issue #14): both destinations type their data with DuckDB, and the messages of that shared step said
 * "DuckDB" (`… no DuckDB DECIMAL holds exactly`, `outside DuckDB's range`, `Loading table x into DuckDB failed`) on
 * an Athena run too, sending its user looking for a DuckDB file. An Athena run's output names no DuckDB.
 */
let db: TestDatabase;
let dir: string;
let lake: Lakehouse;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.query(`CREATE TABLE odd (id int PRIMARY KEY, price numeric(10,2), born date)`);
  await db.query(`INSERT INTO odd VALUES (1, 'NaN', '2024-02-29'), (2, 1.25, '0044-03-15 BC'), (3, 2.50, '2020-01-01')`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-athena-msg-'));
  lake = await startLakehouse(dir);
}, 120_000);

afterAll(async () => {
  await lake?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Athena run messages', () => {
  it('the text-fallback warnings of an Athena run name no DuckDB (regression: "no DuckDB DECIMAL", "outside DuckDB\'s range")', async () => {
    const r = await runCli(['--env', 'dev', '--dataset', 'msg_t', '--tables', 'odd', '--no-schema-export'], lake.env(db.url), dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^warning: odd: odd\.price holds a number no DECIMAL holds exactly .*: the column is loaded as VARCHAR with PostgreSQL's exact text$/m);
    expect(r.stdout).toMatch(/^warning: odd: odd\.born holds a date or timestamp outside the range ingesta types exactly \(BC, or after the year 294246\): the column is loaded as VARCHAR/m);
    expect(r.stdout + r.stderr).not.toMatch(/duckdb/i);
    expect(await lake.athenaQuery('SELECT "id", "price", "born" FROM "msg_t"."odd" ORDER BY "id"')).toEqual([
      { id: '1', price: 'NaN', born: '2024-02-29' },
      { id: '2', price: '1.25', born: '0044-03-15 BC' },
      { id: '3', price: '2.50', born: '2020-01-01' },
    ]);
  });
});
