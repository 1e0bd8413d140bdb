import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.query(`CREATE TABLE parents (id int PRIMARY KEY);
    CREATE TABLE children (id int PRIMARY KEY, parent_id int REFERENCES parents, other_id int REFERENCES parents);
    INSERT INTO parents VALUES (1), (2); INSERT INTO children VALUES (1, 1, 2), (2, 2, NULL);`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-output-'));
});

afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('what a run prints', () => {
  it('source foreign keys the catalog does not declare are no warning: one note with -v, nothing otherwise (regression: a warning per key on every run, even with -q)', async () => {
    const run = (...flags: string[]) =>
      runCli(['--env', 'local', '--duckdb-path', path.join(dir, 'o.duckdb'), '--tables', 'parents', 'children', '--validate', ...flags], { DATABASE_URL: db.url });
    for (const flags of [[], ['-q']]) {
      const r = await run(...flags);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(/foreign key|warning/i);
    }
    const verbose = await run('-v');
    expect(verbose.code, verbose.stderr).toBe(0);
    const notes = verbose.stdout.split('\n').filter((l) => l.startsWith('note: '));
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/^note: the quality gate also checks 2 foreign keys declared in the source but not in the catalog: children \((parent|other)_id\) → parents; children \((parent|other)_id\) → parents$/);
    // and the gate does check them
    expect(verbose.stdout).toMatch(/referential_integrity/);
  });
});
