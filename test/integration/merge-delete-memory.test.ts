import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { expectTableEqualsSource } from '../helpers/duckdb.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * A merge into a large DuckDB table: its DELETE marks every 2,048-row vector it touches (16 KB each, held until the
 * commit), so a 1 % change spread over 36 M rows needs ≈ 280 MB and ran out of memory at the default 128 MB limit
 * (`npm run bench -- --scale 10`). The run then starts over with 4 times the limit — and failed with exit 4 "Conflict
 * on tuple deletion!": DuckDB's rollback of the out-of-memory DELETE had left its deletion marks on the rows, and the
 * second transaction deleting them conflicted with them. Here the same at a small scale: 2.4 M rows, a 16 MB limit.
 */
const DATASET = 'raw_big';
const ROWS = 2_400_000;
let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.query(`CREATE TABLE big (id integer PRIMARY KEY, n integer NOT NULL, updated_at timestamp NOT NULL)`);
  await db.query(`INSERT INTO big SELECT g, g % 1000, timestamp '2026-01-01' + g * interval '1 second' FROM generate_series(1, ${ROWS}) g`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-merge-memory-'));
  writeFileSync(
    path.join(dir, 'catalog.yaml'),
    ['version: 1', 'dataset_prefix: raw_big', 'tables:', '  big:', '    primary_key: [id]', '    write_disposition: merge', '    incremental:', '      cursor_column: updated_at', ''].join('\n'),
  );
}, 120_000);

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ingest = (file: string, limit: string) =>
  runCli(['--env', 'local', '--duckdb-path', file, '--dataset', DATASET, '--catalog', path.join(dir, 'catalog.yaml'), '--source-url', db.url, '--no-reconcile'], {
    INGESTA_DUCKDB_MEMORY_LIMIT: limit,
  });

describe('a merge whose DELETE runs out of DuckDB memory', () => {
  it('is loaded again with 4 times the limit and commits (regression: "Conflict on tuple deletion!", exit 4, after the out-of-memory DELETE was rolled back)', async () => {
    const file = path.join(dir, 'big.duckdb');
    const first = await ingest(file, '256MB');
    expect(first.code, first.stderr).toBe(0);
    // 1 % of the rows, spread over every vector of the table
    await db.query(`UPDATE big SET n = n + 1, updated_at = now()::timestamp WHERE id % 100 = 7`);
    const r = await ingest(file, '16MB');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/warning: big: DuckDB ran out of memory within the 15 MiB memory limit; the load was started over with 61 MiB/);
    expect(r.stdout + r.stderr).not.toMatch(/Conflict on tuple deletion/);
    expect(await expectTableEqualsSource(db, file, DATASET, 'big', ['id'])).toBe(ROWS);
  }, 240_000);
});
