import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/** The quality gate on tables without a key: nothing to check for duplicates, so `skip` with the reason. */
let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.query(`CREATE TABLE log_lines (at timestamptz NOT NULL DEFAULT now(), line text)`);
  await db.query(`INSERT INTO log_lines (line) SELECT 'line ' || g FROM generate_series(1, 20) g`);
  await db.query(`INSERT INTO log_lines (line) VALUES ('line 1'), ('line 1')`);
  await db.query(`CREATE TABLE items (item_id int PRIMARY KEY, name text)`);
  await db.query(`INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 10) g`);
  await db.query(`CREATE VIEW item_names AS SELECT name FROM items`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-keyless-'));
});

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the duplicates check on a table without a key', () => {
  it('a keyless table and a view: duplicates is skip with the reason, the gate passes, exit 0 (regression: SQL with an empty key list, FAIL, exit 6)', async () => {
    const report = path.join(dir, 'report.json');
    const r = await runCli(
      ['--env', 'local', '--duckdb-path', path.join(dir, 'k.duckdb'), '--dataset', 'keyless', '--tables', 'log_lines,item_names,items', '--validar-calidad-datos', '--report-json', report],
      { DATABASE_URL: db.url },
    );
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const checks = (JSON.parse(readFileSync(report, 'utf8')) as { checks: { check: string; table: string; status: string; message: string }[] }).checks;
    const duplicates = Object.fromEntries(checks.filter((c) => c.check === 'duplicates').map((c) => [c.table, c]));
    for (const table of ['log_lines', 'item_names']) {
      expect(duplicates[table]?.status, JSON.stringify(duplicates[table])).toBe('skip');
      expect(duplicates[table]?.message).toContain('no primary key');
    }
    // a table with a key is still checked
    expect(duplicates.items?.status).toBe('pass');
    expect(checks.filter((c) => c.status === 'fail')).toEqual([]);
  });
});
