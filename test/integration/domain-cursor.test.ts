import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckQuery } from '../helpers/duckdb.js';
import { connect, createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * Regression (issue #13, item 4): a cursor column typed with a domain over timestamptz got no lag window and no
 * future-time cap (the cursor's type was tested by the domain's name, not its base type): a late commit inside the
 * lag window was lost silently, and a row stamped in the future pushed the cursor ahead of every real change.
 */

let db: TestDatabase;
let dir: string;
let duckdbPath: string;
let catalog: string;
const DATASET = 'raw_domain';

const ingest = (...args: string[]) =>
  runCli(['--env', 'local', '--duckdb-path', duckdbPath, '--catalog', catalog, '--dataset', DATASET, '--tables', 'ev', ...args], {
    DATABASE_URL: db.url,
    INGESTA_RECONCILE: 'off',
  });

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-domain-'));
  duckdbPath = path.join(dir, 'd.duckdb');
  catalog = path.join(dir, 'c.yaml');
  writeFileSync(
    catalog,
    ['version: 1', 'tables:', '  ev:', '    primary_key: [id]', '    write_disposition: merge', '    incremental: { cursor_column: updated_at }', ''].join('\n'),
  );
  await db.query(`CREATE DOMAIN ts_utc AS timestamptz`);
  await db.query(`CREATE TABLE ev (id int PRIMARY KEY, title text, updated_at ts_utc)`);
  await db.query(`INSERT INTO ev SELECT i, 'row ' || i, now() - interval '1 hour' FROM generate_series(1, 20) i`);
});

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const titleOf = async (id: number) => (await duckQuery(duckdbPath, `SELECT title FROM ${DATASET}.ev WHERE id = ${id}`))[0]?.title;

describe('a cursor column typed with a domain over timestamptz', () => {
  it('gets the lag window: a late commit inside it is caught by the next run (regression: lost silently)', async () => {
    const first = await ingest();
    expect(first.code, first.stderr).toBe(0);
    const late = await connect(db.url);
    try {
      await late.query('BEGIN');
      // stamped now, committed only after a run has stored a later cursor: within the default 15-minute lag
      await late.query(`UPDATE ev SET title = 'late commit', updated_at = clock_timestamp() WHERE id = 1`);
      await new Promise((r) => setTimeout(r, 50));
      await db.query(`UPDATE ev SET title = 'early commit', updated_at = clock_timestamp() WHERE id = 2`);
      const second = await ingest();
      expect(second.code, second.stderr).toBe(0);
      await late.query('COMMIT');
    } finally {
      await late.end();
    }
    expect(await titleOf(2)).toBe('early commit');
    const third = await ingest('-v');
    expect(third.code, third.stderr).toBe(0);
    // the read filter is the stored cursor minus the lag, in the base type
    expect(third.stdout).toMatch(/"updated_at" >= '[^']+'::timestamp with time zone/);
    expect(await titleOf(1)).toBe('late commit');
  });

  it('gets the future-time cap: a row stamped tomorrow does not push the cursor past the snapshot (regression: it did)', async () => {
    await db.query(`INSERT INTO ev VALUES (100, 'from the future', now() + interval '1 day')`);
    const r = await ingest();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/1 rows have updated_at later than the source's current time/);
    const [state] = await duckQuery(duckdbPath, `SELECT cursor_value FROM ${DATASET}._ingesta_state WHERE table_name = 'ev'`);
    const [check] = await db.query(`SELECT ($1::timestamptz > now())::text AS ahead`, [String(state!.cursor_value)]);
    expect(check!.ahead).toBe('false');
    // a change stamped now is still read by the next run
    await db.query(`UPDATE ev SET title = 'after the future row', updated_at = now() WHERE id = 3`);
    expect((await ingest()).code).toBe(0);
    expect(await titleOf(3)).toBe('after the future row');
  });
});
