import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * --solo-validar of a dataset that was never loaded (a new name, or a typo in --dataset) has nothing to validate.
 * Regression: in an existing DuckDB file and on Athena it was exit 6 "The quality gate failed: 4 checks failed", as
 * if the data were bad; now exit 5 in one line, as for a DuckDB file that does not exist (README: exit codes).
 */
let db: TestDatabase;
let dir: string;
let lake: Lakehouse;

beforeAll(async () => {
  db = await createTestDatabase('ingesta_never_loaded');
  await db.query(`CREATE TABLE t (id int PRIMARY KEY, v text)`);
  await db.query(`INSERT INTO t VALUES (1, 'a')`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-never-loaded-'));
  lake = await startLakehouse(dir);
  writeFileSync(path.join(dir, 'c.yaml'), ['version: 1', 'tables:', '  t:', '    primary_key: [id]'].join('\n'));
}, 60_000);

afterAll(async () => {
  await lake?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const NEVER = /^ingesta: error: Dataset (\w+) in .* holds no table: it has never been loaded, so there is nothing to validate\. Load it first \(run without --solo-validar\), or check --dataset \(INGESTA_DATASET\)\.$/;

describe('--solo-validar of a dataset never loaded', () => {
  it('is exit 5 in one line, in a DuckDB file holding another dataset and on Athena (regression: exit 6, every check failed)', async () => {
    const catalog = path.join(dir, 'c.yaml');
    const local = ['--env', 'local', '--catalog', catalog, '--duckdb-path', path.join(dir, 'v.duckdb')];
    expect((await runCli([...local, '--dataset', 'loaded'], { DATABASE_URL: db.url })).code).toBe(0);
    const dev = ['--env', 'dev', '--catalog', catalog];
    expect((await runCli([...dev, '--dataset', 'loaded_dev'], lake.env(db.url))).code).toBe(0);

    for (const [args, env, dataset] of [[local, { DATABASE_URL: db.url }, 'laoded'], [dev, lake.env(db.url), 'laoded_dev']] as const) {
      const r = await runCli([...args, '--dataset', dataset, '--solo-validar'], env);
      expect(r.code, r.stdout + r.stderr).toBe(5);
      expect(r.stderr.trim()).toMatch(NEVER);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      // the loaded dataset still validates
      const ok = await runCli([...args, '--dataset', dataset.replace('laoded', 'loaded'), '--solo-validar'], env);
      expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    }
  });
});
