import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dryRun, run } from '../../src/pipeline/run.js';
import { expectTableEqualsSource } from '../helpers/duckdb.js';
import { startLogicalCluster } from '../helpers/logical-cluster.js';
import type { PgCluster } from '../helpers/pg-cluster.js';
import type { TestDatabase } from '../helpers/postgres.js';

/**
 * Change data capture into DuckDB of a table without a key (REPLICA IDENTITY FULL): a delete removed "one row equal
 * to the old values" by DuckDB's rowid. A source column named rowid (tables moved from SQLite or Oracle have one)
 * hides that pseudo-column, so the delete took every row sharing the column's value: rows lost, exit 0.
 */
const DATASET = 'raw_cdc_rowid';
const raw = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
let cluster: PgCluster;
let db: TestDatabase;
let client: pg.Client;
let dir: string;

beforeAll(async () => {
  cluster = await startLogicalCluster();
  await cluster.exec('CREATE DATABASE cdc_rowid');
  const url = cluster.url('postgres', undefined, 'cdc_rowid');
  client = new pg.Client({ connectionString: url, types: raw });
  await client.connect();
  db = { name: 'cdc_rowid', url, client, query: async (sql: string, params?: unknown[]) => (await client.query(sql, params)).rows, drop: async () => undefined } as unknown as TestDatabase;
  await client.query(`CREATE TABLE legacy (rowid int, v text)`);
  await client.query(`ALTER TABLE legacy REPLICA IDENTITY FULL`);
  // rowid 0 on three different rows, and two rows equal in every column
  await client.query(`INSERT INTO legacy VALUES (0, 'a'), (0, 'b'), (0, 'b'), (1, 'c'), (2, 'd')`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-cdc-rowid-'));
}, 120_000);

afterAll(async () => {
  await client?.end().catch(() => undefined);
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ingest = (duckdbPath: string) =>
  run({ env: 'local', duckdbPath, dataset: DATASET, sourceUrl: db.url, tables: ['legacy'], cdc: true, schemaExport: false }, { env: {} });

describe('CDC of a keyless table with a column named rowid', () => {
  it('a delete removes one row equal to the old values, never the other rows sharing its rowid column (regression: every row with rowid 0 was deleted, exit 0)', async () => {
    const file = path.join(dir, 'd.duckdb');
    await ingest(file);
    await expectTableEqualsSource(db, file, DATASET, 'legacy', ['rowid', 'v']);
    // one of the two equal rows, then a row whose rowid value other rows share
    await client.query(`DELETE FROM legacy WHERE ctid = (SELECT min(ctid) FROM legacy WHERE v = 'b')`);
    await client.query(`DELETE FROM legacy WHERE v = 'a'`);
    await client.query(`INSERT INTO legacy VALUES (0, 'e')`);
    await ingest(file);
    expect(await expectTableEqualsSource(db, file, DATASET, 'legacy', ['rowid', 'v'])).toBe(4);
  });
});

describe('CDC of a table with a column named like the change file\'s own (_op, _seq, _unchanged, _moved, _ingesta_…)', () => {
  it('is refused before any slot exists, exit 2 naming table and column (regression: the first run loaded, every later one failed with exit 4 "Duplicate struct entry name")', async () => {
    await client.query(`CREATE TABLE ops (id int PRIMARY KEY, "_OP" text)`);
    await client.query(`INSERT INTO ops VALUES (1, 'x')`);
    const slots = async () => Number((await client.query(`SELECT count(*)::int AS n FROM pg_replication_slots`)).rows[0].n);
    const before = await slots();
    const file = path.join(dir, 'ops.duckdb');
    const options = { env: 'local' as const, duckdbPath: file, dataset: 'raw_cdc_ops', sourceUrl: db.url, tables: ['ops'], cdc: true, schemaExport: false as const };
    for (const attempt of [() => run(options, { env: {} }), () => dryRun(options, { env: {} })]) {
      const error = await attempt().then(
        () => undefined,
        (e: unknown) => e as { kind?: string; message?: string },
      );
      expect(error?.kind, String(error?.message)).toBe('config');
      expect(error?.message).toMatch(/^Table public\.ops has a column named _OP, a name change data capture keeps for its own bookkeeping .*Leave the table out of CDC/);
    }
    expect(await slots()).toBe(before);
  });
});
