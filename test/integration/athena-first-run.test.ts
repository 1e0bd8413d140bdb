import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * The first run into a new dev/prod dataset: its Glue database does not exist until the load creates it.
 * Regression: every first run warned "clean-up skipped: the Glue tables of <dataset> could not be listed (… Database
 * <dataset> not found.), so no leftover was removed; the next run tries again" — a failure that was none.
 */
let db: TestDatabase;
let dir: string;
let lake: Lakehouse;

beforeAll(async () => {
  db = await createTestDatabase('ingesta_first_run');
  await db.query(`CREATE TABLE m (id int PRIMARY KEY, updated_at timestamptz NOT NULL, v text)`);
  await db.query(`INSERT INTO m VALUES (1, now(), 'a')`);
  await db.query(`CREATE TABLE f (id int PRIMARY KEY)`);
  await db.query(`INSERT INTO f VALUES (1)`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-first-run-'));
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

const warnings = (out: string) => out.split('\n').filter((l) => l.startsWith('warning: ') && !l.startsWith('warning: Node '));

describe('Athena: the first run into a new dataset', () => {
  it('says nothing about a clean-up (regression: "clean-up skipped … Database not found" on every first run)', async () => {
    const r = await runCli(['--env', 'dev', '--catalog', path.join(dir, 'c.yaml'), '--dataset', 'first_dev'], lake.env(db.url));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(warnings(r.stdout + r.stderr)).toEqual([]);
    const again = await runCli(['--env', 'dev', '--catalog', path.join(dir, 'c.yaml'), '--dataset', 'first_dev'], lake.env(db.url));
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(warnings(again.stdout + again.stderr)).toEqual([]);
  });
});
