import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { estimateRead } from '../../src/pipeline/progress.js';
import type { TableRead } from '../../src/pipeline/table-read.js';
import { estimateTableRows } from '../../src/source/postgres/row-estimate.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/** The estimate progress shows against (source/postgres/row-estimate.ts), on real PostgreSQL: free, never a scan. */
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('ingesta_estimate');
  await db.client.query(`
    CREATE TABLE analyzed (id int PRIMARY KEY, at timestamptz);
    INSERT INTO analyzed SELECT g, timestamptz '2024-01-01' + g * interval '1 minute' FROM generate_series(1, 20000) g;
    CREATE TABLE never_analyzed (id int PRIMARY KEY) WITH (autovacuum_enabled = false);
    INSERT INTO never_analyzed SELECT generate_series(1, 5000);
    CREATE TABLE empty (id int PRIMARY KEY);
    CREATE TABLE parted (id int, region text) PARTITION BY LIST (region);
    CREATE TABLE parted_eu PARTITION OF parted FOR VALUES IN ('eu');
    CREATE TABLE parted_us PARTITION OF parted FOR VALUES IN ('us') PARTITION BY RANGE (id);
    CREATE TABLE parted_us_low PARTITION OF parted_us FOR VALUES FROM (0) TO (10000);
    INSERT INTO parted SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 6000) g;
    CREATE TABLE "Mixed Case" (id int);
    INSERT INTO "Mixed Case" SELECT generate_series(1, 300);
    CREATE VIEW a_view AS SELECT * FROM analyzed;
    ANALYZE analyzed; ANALYZE empty; ANALYZE parted; ANALYZE "Mixed Case";`);
}, 60_000);

afterAll(async () => {
  await db?.drop();
});

const read = (name: string, mode: 'full' | 'incremental', select: string) =>
  ({ mode, select, where: undefined, reconcile: 'never', entry: { name, sourceSchema: 'public', sourceName: name } }) as unknown as TableRead;

describe('row estimates for progress', () => {
  it('pg_class.reltuples of an analyzed table; summed over every level of partitions; quoted names', async () => {
    expect(await estimateTableRows(db.client, 'public', 'analyzed')).toBe(20_000);
    expect(await estimateTableRows(db.client, 'public', 'parted')).toBe(6_000);
    expect(await estimateTableRows(db.client, 'public', 'Mixed Case')).toBe(300);
  });

  it('unknown (null) without statistics, for an empty table, a view or a missing table: progress shows no percentage then', async () => {
    expect(await estimateTableRows(db.client, 'public', 'never_analyzed')).toBeNull();
    expect(await estimateTableRows(db.client, 'public', 'empty')).toBeNull();
    expect(await estimateTableRows(db.client, 'public', 'a_view')).toBeNull();
    expect(await estimateTableRows(db.client, 'public', 'nothing_here')).toBeNull();
  });

  it('an incremental read: the planner\'s estimate of its window (EXPLAIN, nothing executed); unknown without statistics', async () => {
    const full = await estimateRead(db.client, read('analyzed', 'full', 'SELECT * FROM public.analyzed'));
    expect(full).toBe(20_000);
    // the last 2,000 minutes of 20,000: the planner's histogram puts it near 2,000
    const window = await estimateRead(db.client, read('analyzed', 'incremental', "SELECT * FROM public.analyzed WHERE at >= timestamptz '2024-01-01' + 18000 * interval '1 minute'"));
    expect(window).toBeGreaterThan(1_000);
    expect(window).toBeLessThan(4_000);
    expect(await estimateRead(db.client, read('never_analyzed', 'incremental', 'SELECT * FROM public.never_analyzed WHERE id > 10'))).toBeNull();
  });

  it('inside a REPEATABLE READ READ ONLY snapshot, as a run asks (nothing written, the transaction stays usable)', async () => {
    await db.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    try {
      expect(await estimateRead(db.client, read('analyzed', 'incremental', 'SELECT * FROM public.analyzed WHERE id > 19000'))).toBeGreaterThan(500);
      expect((await db.query('SELECT count(*)::int AS n FROM analyzed'))[0]!.n).toBe('20000');
    } finally {
      await db.client.query('ROLLBACK');
    }
  });
});
