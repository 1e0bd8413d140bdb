import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * A --duckdb-path that names a file which is not a DuckDB database: the run, status and the gate alone stop with exit 5
 * and one line saying what the file is and what to do, and the file is left byte for byte as it was.
 */
let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.query('CREATE TABLE t (id integer PRIMARY KEY, v text)');
  await db.query("INSERT INTO t VALUES (1, 'a')");
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-destfile-'));
});

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ingest = (file: string, args: string[] = ['--tables', 't']) => runCli(['--env', 'local', '--duckdb-path', file, '--source-url', db.url, ...args]);

function expectOneLine(stderr: string, ...texts: string[]): void {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  for (const text of texts) expect(lines[0]).toContain(text);
}

describe('a --duckdb-path that is not a DuckDB file', () => {
  it('a SQLite database is named as such, exit 5 in one line, the file unchanged (regression: DuckDB tried to download its sqlite extension, and the run printed a 4-line error blaming the path or its permissions)', async () => {
    const file = path.join(dir, 'app.db');
    // the 16-byte header every SQLite 3 database starts with, then an empty first page
    writeFileSync(file, Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), Buffer.alloc(4080)]));
    const bytes = readFileSync(file);
    for (const args of [['--tables', 't'], ['--solo-validar', '--tables', 't']]) {
      const r = await ingest(file, args);
      expect(r.code, r.stderr).toBe(5);
      expectOneLine(r.stderr, `The file ${file} is a SQLite database, not a DuckDB file`, '--duckdb-path');
      expect(r.stderr).not.toMatch(/download|extension|writable/i);
    }
    const status = await runCli(['status', '--env', 'local', '--duckdb-path', file]);
    expect(status.code, status.stderr).toBe(5);
    expectOneLine(status.stderr, 'is a SQLite database');
    expect(readFileSync(file).equals(bytes)).toBe(true);
  });

  it('an empty file or random bytes: "not a DuckDB database", exit 5 in one line, the file unchanged (regression: "exists, but it is not a valid DuckDB database file!. Check … that it is writable")', async () => {
    for (const [name, content] of [['empty.duckdb', Buffer.alloc(0)], ['random.duckdb', Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919) % 251))]] as const) {
      const file = path.join(dir, name);
      writeFileSync(file, content);
      const r = await ingest(file);
      expect(r.code, r.stderr).toBe(5);
      expectOneLine(r.stderr, `The file ${file} is not a DuckDB database`, '--duckdb-path');
      expect(r.stderr).not.toContain('writable');
      expect(readFileSync(file).equals(content)).toBe(true);
    }
  });
});
