import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ejemplo } from '../../examples/ingesta_ejemplo.js';
import { expectedRowCounts } from '../../src/demo/datavision-generator.js';
import { runCli } from '../helpers/cli.js';
import { duckQuery, expectTableEqualsSource } from '../helpers/duckdb.js';
import { createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDataVision(db, 50);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-lib-'));
});

afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('library API and demo', () => {
  it('the example loads one full and one incremental table through run()', async () => {
    const file = path.join(dir, 'ejemplo.duckdb');
    const first = await ejemplo(db.url, file);
    expect(first.tables.map((t) => [t.table, t.mode])).toEqual([['accounts', 'full'], ['contents', 'full']]);
    await db.query(`UPDATE contents SET title = 'ejemplo', updated_at = now() WHERE content_id = 1`);
    const second = await ejemplo(db.url, file);
    expect(second.tables.map((t) => [t.table, t.mode])).toEqual([['accounts', 'full'], ['contents', 'incremental']]);
    await expectTableEqualsSource(db, file, 'raw_datavision_local', 'contents', ['content_id']);
  });

  it('ingesta demo runs on an embedded PostgreSQL with no database set up', async () => {
    const file = path.join(dir, 'demo.duckdb');
    // no DATABASE_URL / PG* at all: the demo brings its own PostgreSQL
    const r = await runCli(['demo', '--size', '40', '--duckdb-path', file], {}, dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('subscription_payments');
    // the quality gate runs, and a few loaded rows are shown through ingesta itself (regression: no gate, and a
    // suggested `duckdb` command the user does not have)
    expect(r.stdout).toMatch(/quality gate PASSED: \d+ pass/);
    expect(r.stdout).toMatch(/raw_datavision_local\.contents \(120 rows; the first 5, read back from .*\):\ncontent_id +account_id +title/);
    expect(r.stdout).toMatch(/\n +1 +\d+ +Content 1 /);
    expect(r.stdout).not.toMatch(/^\s*duckdb /m);
    const counts = await duckQuery(file, `SELECT count(*) AS n FROM raw_datavision_local.content_attributes`);
    expect(Number(counts[0]!.n)).toBe(expectedRowCounts(40).content_attributes);
  });
});
