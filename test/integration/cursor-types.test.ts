import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckQuery } from '../helpers/duckdb.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * Incremental cursors that are not timestamps: numbers that can hold NaN or Infinity (which sort above every number in
 * PostgreSQL, so max() returned them and every later change was below the stored cursor), and column types that have
 * no maximum at all.
 */
let db: TestDatabase;
let dir: string;
let catalog: string;
const DATASET = 'raw_cursor_types';

const ingest = (file: string, tables: string[]) =>
  runCli(['--env', 'local', '--duckdb-path', file, '--catalog', catalog, '--dataset', DATASET, '--no-schema-export', '--tables', ...tables], {
    DATABASE_URL: db.url,
    INGESTA_RECONCILE: 'off',
  });

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-cursor-types-'));
  catalog = path.join(dir, 'c.yaml');
  const entries = ['nn', 'ff', 'uu'].map((t) => `  ${t}: { primary_key: [id], write_disposition: merge, incremental: { cursor_column: ver } }`);
  writeFileSync(catalog, ['version: 1', 'tables:', ...entries, ''].join('\n'));
  await db.query(`CREATE TABLE nn (id int PRIMARY KEY, ver numeric, v text)`);
  await db.query(`INSERT INTO nn VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 'NaN', 'c')`);
  await db.query(`CREATE TABLE ff (id int PRIMARY KEY, ver double precision, v text)`);
  await db.query(`INSERT INTO ff VALUES (1, 1, 'a'), (2, 2, 'b'), (3, 'Infinity', 'c')`);
  await db.query(`CREATE TABLE uu (id int PRIMARY KEY, ver uuid, v text)`);
  await db.query(`INSERT INTO uu VALUES (1, gen_random_uuid(), 'a')`);
});

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const values = async (file: string, table: string) =>
  (await duckQuery(file, `SELECT id, v FROM ${DATASET}.${table} ORDER BY id`)).map((r) => `${String(r.id)}:${String(r.v)}`);

describe('numeric cursors holding NaN or Infinity', () => {
  it('the cursor leaves NaN and Infinity out, so a later change is read, with a warning (regression: the cursor became NaN / Infinity and every later change was missed, exit 0)', async () => {
    const file = path.join(dir, 'nonfinite.duckdb');
    const first = await ingest(file, ['nn', 'ff']);
    expect(first.code, first.stderr).toBe(0);
    for (const t of ['nn', 'ff']) {
      expect(first.stdout + first.stderr).toContain(`warning: ${t}: 1 rows have ver NaN or Infinity, which cannot order changes; the cursor leaves them out, so they are re-read on every run.`);
    }
    const state = await duckQuery(file, `SELECT table_name, cursor_value FROM ${DATASET}._ingesta_state ORDER BY table_name`);
    expect(state.map((r) => `${String(r.table_name)}=${String(r.cursor_value)}`)).toEqual(['ff=2', 'nn=2']);
    await db.query(`UPDATE nn SET ver = 10, v = 'changed' WHERE id = 1`);
    await db.query(`UPDATE ff SET ver = 10, v = 'changed' WHERE id = 1`);
    const second = await ingest(file, ['nn', 'ff']);
    expect(second.code, second.stderr).toBe(0);
    for (const t of ['nn', 'ff']) expect(await values(file, t)).toEqual(['1:changed', '2:b', '3:c']);
  });

  it('a NaN cursor stored by an earlier version makes the next run load the table in full, saying why', async () => {
    const file = path.join(dir, 'stuck.duckdb');
    expect((await ingest(file, ['nn'])).code).toBe(0);
    // what an earlier version stored: the NaN row's cursor; a change made since then is below it
    const instance = await DuckDBInstance.create(file);
    const connection = await instance.connect();
    await connection.run(`UPDATE ${DATASET}._ingesta_state SET cursor_value = 'NaN' WHERE table_name = 'nn'`);
    connection.closeSync();
    instance.closeSync();
    await db.query(`UPDATE nn SET ver = 20, v = 'missed' WHERE id = 2`);
    const r = await ingest(file, ['nn']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toContain('warning: nn: the stored cursor of nn is NaN, above every later change: the table is loaded in full');
    expect(await values(file, 'nn')).toEqual(['1:changed', '2:missed', '3:c']);
    const state = await duckQuery(file, `SELECT cursor_value FROM ${DATASET}._ingesta_state WHERE table_name = 'nn'`);
    expect(state[0]!.cursor_value).toBe('20');
  });
});

describe('a cursor column whose type has no maximum', () => {
  it('uuid: exit 2 in one line naming the table, column and type, nothing created (regression: exit 3 "Planning the read of public.uu failed: function max(uuid) does not exist", as if the source had failed)', async () => {
    const file = path.join(dir, 'uuid.duckdb');
    const r = await ingest(file, ['uu']);
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toContain('Table uu: the cursor column ver is of type uuid, which PostgreSQL cannot take a maximum of');
    expect(lines[0]).toContain('incremental.cursor_column');
    expect(existsSync(file)).toBe(false);
  });
});

describe('a catalog lag that is not a duration', () => {
  it('is exit 2 in one line naming the table and the value, nothing created (regression: exit 3 "Planning the read of public.nn failed: … or 0.. Nothing was loaded", as if the source had failed)', async () => {
    const badCatalog = path.join(dir, 'bad-lag.yaml');
    writeFileSync(badCatalog, ['version: 1', 'tables:', '  nn: { primary_key: [id], write_disposition: merge, incremental: { cursor_column: ver, lag: 15 minutos } }', ''].join('\n'));
    const file = path.join(dir, 'bad-lag.duckdb');
    const r = await runCli(['--env', 'local', '--duckdb-path', file, '--catalog', badCatalog, '--dataset', DATASET, '--tables', 'nn'], { DATABASE_URL: db.url });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual(['ingesta: error: Catalog lag of nn "15 minutos" is not a duration. Use a number and a unit, e.g. "15 minutes", "30s", "1h", or 0.']);
    expect(existsSync(file)).toBe(false);
  });
});
