import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeDuckdbFailure, failedColumn } from '../../src/normalize/duckdb-errors.js';

/** Real DuckDB messages (an in-memory database), reduced to what failed and where: never the value. */
let dir: string;
let file: string;
const SECRET = 'secret-value-4711';

async function failure(sql: string): Promise<string> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(sql);
  } catch (error) {
    return (error as Error).message;
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  throw new Error(`expected ${sql} to fail`);
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-duckerr-'));
  file = path.join(dir, 'x.csv');
  writeFileSync(file, `1,"${SECRET}",NaN\n`);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('describeDuckdbFailure', () => {
  it('a CSV conversion error: column, type and record, without the value or the record', async () => {
    const message = await failure(
      `SELECT * FROM read_csv('${file}', columns = {'id': 'INTEGER', 'note': 'VARCHAR', 'n': 'DECIMAL(12,4)'}, header = false, auto_detect = false)`,
    );
    expect(message).toContain(SECRET);
    expect(failedColumn(message)).toBe('n');
    const text = describeDuckdbFailure(message);
    expect(text).toBe('Conversion Error: column n (record 1 of the extract) holds a value that cannot be converted to DECIMAL (the value is not shown)');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('NaN');
  });

  it('a cast error: the column it names, without the value', async () => {
    const message = await failure(`SELECT CAST(n AS DECIMAL(38,9)) FROM (SELECT '${SECRET}' AS n)`);
    expect(message).toContain(SECRET);
    const text = describeDuckdbFailure(message);
    expect(text).toMatch(/^Conversion Error: column n holds a value that cannot be converted to DECIMAL\(38,9\)/);
    expect(text).not.toContain(SECRET);
  });

  it('an error about a value that names no column: still no value', async () => {
    const message = await failure(`SELECT unhex('zz${SECRET}')`);
    const text = describeDuckdbFailure(message);
    expect(text).toMatch(/^Invalid Input Error: a column holds a value that cannot be converted/);
    expect(text).not.toMatch(/zz|secret/);
  });

  it('any other error keeps its first line', () => {
    expect(describeDuckdbFailure('Out of Memory Error: failed to allocate data of size 16.0 MiB (122.0 MiB/122.0 MiB used)\nmore')).toBe(
      'Out of Memory Error: failed to allocate data of size 16.0 MiB (122.0 MiB/122.0 MiB used)',
    );
  });
});
