import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckQuery, duckTableDigest } from '../helpers/duckdb.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * A merge table whose catalog primary_key is not unique in the source (no key there to enforce it): two rows share
 * key 1. When only one of them changed, the merge's DELETE by key removed both and inserted the one read: the other
 * row was lost, exit 0 and nothing said (with reconciliation off; with it on, every run warned of deletes or late
 * commits that never happened and re-read the row). The load now stops instead: exit 4, nothing committed.
 */
let db: TestDatabase;
let dir: string;
let catalog: string;
const DATASET = 'raw_nonunique';

const ingest = (file: string, env: Record<string, string> = {}) =>
  runCli(['--env', 'local', '--duckdb-path', file, '--catalog', catalog, '--dataset', DATASET, '--no-schema-export', '--tables', 'dup'], {
    DATABASE_URL: db.url,
    ...env,
  });

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-nonunique-'));
  catalog = path.join(dir, 'c.yaml');
  writeFileSync(
    catalog,
    ['version: 1', 'tables:', '  dup: { primary_key: [k], write_disposition: merge, incremental: { cursor_column: updated_at, lag: 0s } }', ''].join('\n'),
  );
  await db.query(`CREATE TABLE dup (k int, updated_at timestamptz, v text)`);
  await db.query(`INSERT INTO dup VALUES (1, now() - interval '1 day', 'a'), (1, now() - interval '2 days', 'b'), (2, now() - interval '1 day', 'c')`);
});

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a merge key that is not unique in the source', () => {
  it('an incremental run that reads one of two rows sharing a key stops with exit 4 naming the key, the destination unchanged (regression: the other row was deleted, exit 0)', async () => {
    const file = path.join(dir, 'd.duckdb');
    const first = await ingest(file);
    expect(first.code, first.stderr).toBe(0);
    const before = await duckTableDigest(file, DATASET, 'dup', 'v');
    await db.query(`UPDATE dup SET v = 'a2', updated_at = now() WHERE v = 'a'`);
    for (const env of [{ INGESTA_RECONCILE: 'off' }, {}] as Record<string, string>[]) {
      const r = await ingest(file, env);
      expect(r.code, r.stderr).toBe(4);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      // the batch: the changed row, and the row sharing the stored cursor value (ties are re-read)
      expect(lines[0]).toContain("Table dup: the merge key (k) is not unique: the destination holds 3 rows with the keys of this batch's 2 rows, so merging would drop rows this run did not read");
      expect(lines[0]).toContain('--full-refresh dup');
      expect(await duckTableDigest(file, DATASET, 'dup', 'v')).toBe(before);
    }
    const rows = await duckQuery(file, `SELECT v FROM ${DATASET}.dup ORDER BY v`);
    expect(rows.map((r) => r.v)).toEqual(['a', 'b', 'c']);
  });
});
