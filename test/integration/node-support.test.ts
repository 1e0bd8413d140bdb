import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

let db: TestDatabase;
let dir: string;
let lake: Lakehouse;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-node-'));
  lake = await startLakehouse(dir);
});

afterAll(async () => {
  await lake?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe(`the Node line ingesta runs on (this is Node ${process.version})`, () => {
  it('a dev/prod run says in one line when Node is past its end of life, instead of the AWS SDK\'s eight-line warning', async () => {
    const r = await runCli(['--env', 'dev', '--tables', 't', '--dry-run'], lake.env(db.url));
    expect(r.code, r.stderr).toBe(0);
    const output = r.stdout + r.stderr;
    // regression: on Node 20 every dev/prod run printed the SDK's NodeVersionSupportWarning (8 lines) on stderr
    expect(output).not.toContain('NodeVersionSupportWarning');
    const lines = output.split('\n').filter((l) => l.includes('past its end of life'));
    expect(lines).toHaveLength(NODE_MAJOR < 22 ? 1 : 0);
  });

  it('a local run never mentions the Node line', async () => {
    const r = await runCli(['--env', 'local', '--tables', 't', '--dry-run', '--duckdb-path', path.join(dir, 'x.duckdb')], { DATABASE_URL: db.url });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/end of life|NodeVersionSupportWarning/);
  });
});
