import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckQuery } from '../helpers/duckdb.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * Two source tables of the same name in different schemas land on one destination table. The catalog's `ev` (schema
 * s2) is incremental; a run with `--tables public.ev` loads the other table in full into the same destination table.
 * That load left the catalog table's cursor in _ingesta_state, so the next catalog run was incremental: it merged the
 * few changed s2 rows into public.ev's rows and kept the rest, values of another table, exit 0 and nothing said.
 */
let db: TestDatabase;
let dir: string;
let catalog: string;
const DATASET = 'raw_same_name';

const ingest = (file: string, ...args: string[]) =>
  runCli(['--env', 'local', '--duckdb-path', file, '--catalog', catalog, '--dataset', DATASET, '--no-schema-export', ...args], { DATABASE_URL: db.url });

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-same-name-'));
  catalog = path.join(dir, 'c.yaml');
  writeFileSync(catalog, ['version: 1', 'tables:', '  ev: { schema: s2, primary_key: [id], write_disposition: merge, incremental: { cursor_column: updated_at } }', ''].join('\n'));
  await db.query(`CREATE SCHEMA s2`);
  await db.query(`CREATE TABLE s2.ev (id int PRIMARY KEY, updated_at timestamptz, v text)`);
  await db.query(`INSERT INTO s2.ev VALUES (1, now() - interval '2 days', 's2 one'), (2, now() - interval '1 day', 's2 two')`);
  await db.query(`CREATE TABLE public.ev (id int PRIMARY KEY, updated_at timestamptz, v text)`);
  await db.query(`INSERT INTO public.ev VALUES (1, now() - interval '3 days', 'public one'), (2, now() - interval '3 days', 'public two')`);
  await db.query(`CREATE TABLE "_ingesta_runs" (id int PRIMARY KEY, v text)`);
  await db.query(`CREATE TABLE "_ingesta_state" (id int PRIMARY KEY)`);
  await db.query(`CREATE TABLE "Orders__ingesta_stage" (id int PRIMARY KEY)`);
});

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('another source table loaded into an incremental table\'s destination table', () => {
  it('the full load of public.ev forgets s2.ev\'s cursor, so the next catalog run reloads s2.ev in full (regression: it merged into public.ev\'s rows and kept them, exit 0)', async () => {
    const file = path.join(dir, 'd.duckdb');
    expect((await ingest(file)).code).toBe(0);
    const other = await ingest(file, '--tables', 'public.ev');
    expect(other.code, other.stderr).toBe(0);
    expect(await duckQuery(file, `SELECT * FROM ${DATASET}._ingesta_state`)).toEqual([]);
    await db.query(`UPDATE s2.ev SET v = 's2 two changed', updated_at = now() WHERE id = 2`);
    const back = await ingest(file);
    expect(back.code, back.stderr).toBe(0);
    const rows = await duckQuery(file, `SELECT id, v FROM ${DATASET}.ev ORDER BY id`);
    expect(rows.map((r) => `${String(r.id)}:${String(r.v)}`)).toEqual(['1:s2 one', '2:s2 two changed']);
    const loads = await duckQuery(file, `SELECT mode FROM ${DATASET}._ingesta_loads ORDER BY loaded_at DESC LIMIT 1`);
    expect(loads[0]!.mode).toBe('full');
  });
});

describe('a source table named like one of ingesta\'s own tables', () => {
  it('_ingesta_runs, _ingesta_state, …__ingesta_stage: exit 2 in one line, nothing created (regression: _ingesta_runs was exit 1 "unexpected error: Binder Error", _ingesta_state replaced the cursor table with the source\'s, exit 0)', async () => {
    const file = path.join(dir, 'reserved.duckdb');
    for (const name of ['_ingesta_runs', '_ingesta_state', '"Orders__ingesta_stage"']) {
      const r = await ingest(file, '--tables', name);
      expect(r.code, r.stderr).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toContain(`Table public.${name.replace(/"/g, '')} cannot be loaded under its name`);
      expect(existsSync(file)).toBe(false);
    }
  });
});
