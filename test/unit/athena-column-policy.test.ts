import { DuckDBInstance } from '@duckdb/node-api';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canWiden, castBatchFile, columnDdl, planIcebergColumns } from '../../src/destination/athena/athena-column-policy.js';
import { athenaColumnType } from '../../src/destination/athena/athena-type-map.js';
import { DataError } from '../../src/errors.js';
import { rejection } from '../helpers/expect-error.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ingesta-column-policy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a Parquet file from a DuckDB SELECT and reads another back as text rows. */
async function duck<T>(fn: (run: (sql: string) => Promise<Record<string, unknown>[]>) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  try {
    return await fn(async (sql) => (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[]);
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

describe('Iceberg column types (Athena refuses tinyint/smallint in Iceberg tables)', () => {
  it('smallint and tinyint columns of an Iceberg table are written and declared as int (regression: smallint was sent)', () => {
    expect(athenaColumnType('n', 'SMALLINT', 'iceberg')).toEqual({ parquetSql: 'CAST("n" AS INTEGER)', athenaType: 'int' });
    expect(athenaColumnType('n', 'TINYINT', 'iceberg').athenaType).toBe('int');
    expect(athenaColumnType('n', 'SMALLINT[]', 'iceberg').athenaType).toBe('array<int>');
    // Hive Parquet tables keep them
    expect(athenaColumnType('n', 'SMALLINT', 'parquet').athenaType).toBe('smallint');
    expect(athenaColumnType('n', 'SMALLINT').athenaType).toBe('smallint');
  });
});

describe('the column policy of an Iceberg table', () => {
  it('known columns come from the table (Glue): no ADD COLUMNS for a column it has', () => {
    const plan = planIcebergColumns(
      [{ name: 'id', type: 'int' }, { name: 'title', type: 'string' }, { name: 'added', type: 'date' }],
      [{ name: 'id', type: 'int' }, { name: 'title', type: 'string' }],
    );
    expect(plan.added).toEqual([{ name: 'added', type: 'date' }]);
    expect(columnDdl('contents', plan)).toEqual(['ALTER TABLE `contents` ADD COLUMNS (`added` date)']);
  });

  it('widens only as Athena can (int→bigint, float→double, more decimal precision), else casts the batch to the column', () => {
    expect(canWiden('int', 'bigint')).toBe(true);
    expect(canWiden('float', 'double')).toBe(true);
    expect(canWiden('decimal(10,2)', 'decimal(12,2)')).toBe(true);
    expect(canWiden('decimal(38,2)', 'decimal(38,4)')).toBe(false);
    expect(canWiden('bigint', 'int')).toBe(false);
    const plan = planIcebergColumns(
      [{ name: 'n', type: 'bigint' }, { name: 'v', type: 'decimal(38,4)' }, { name: 'm', type: 'int' }, { name: 's', type: 'string' }],
      [{ name: 'n', type: 'int' }, { name: 'v', type: 'decimal(38,2)' }, { name: 'm', type: 'bigint' }, { name: 's', type: 'decimal(38,9)' }],
    );
    expect(plan.widened).toEqual([{ name: 'n', type: 'bigint' }]);
    expect([...plan.casts]).toEqual([['v', 'decimal(38,2)'], ['m', 'bigint'], ['s', 'decimal(38,9)']]);
    expect(columnDdl('t', plan)).toEqual(['ALTER TABLE `t` CHANGE COLUMN `n` `n` bigint']);
    expect(plan.columns.map((c) => c.type)).toEqual(['bigint', 'decimal(38,2)', 'bigint', 'decimal(38,9)']);
  });

  it('a batch of another decimal scale is cast to the column when its values fit, exactly', async () => {
    const file = path.join(dir, 'fits.parquet');
    await duck((run) => run(`COPY (SELECT * FROM (VALUES (1, 1.5000::DECIMAL(38,4)), (2, NULL)) v(id, v)) TO '${file}' (FORMAT parquet)`));
    const plan = planIcebergColumns([{ name: 'id', type: 'int' }, { name: 'v', type: 'decimal(38,4)' }], [{ name: 'id', type: 'int' }, { name: 'v', type: 'decimal(38,2)' }]);
    await castBatchFile('content_attributes', [file], plan, ['id']);
    const rows = await duck((run) => run(`SELECT id, CAST(v AS VARCHAR) AS v, typeof(v) AS t FROM '${file}' ORDER BY id`));
    expect(rows).toEqual([{ id: 1, v: '1.50', t: 'DECIMAL(38,2)' }, { id: 2, v: null, t: 'DECIMAL(38,2)' }]);
  });

  it('a value that does not fit the column stops the run: DataError naming table, column and key, never the value', async () => {
    const file = path.join(dir, 'misfit.parquet');
    await duck((run) => run(`COPY (SELECT * FROM (VALUES (1, '1.25'), (7, '3.14159'), (8, 'NaN')) v(id, v)) TO '${file}' (FORMAT parquet)`));
    const plan = planIcebergColumns([{ name: 'id', type: 'int' }, { name: 'v', type: 'string' }], [{ name: 'id', type: 'int' }, { name: 'v', type: 'decimal(38,2)' }]);
    const error = await rejection(castBatchFile('content_attributes', [file], plan, ['id']));
    expect(error).toBeInstanceOf(DataError);
    const message = (error as Error).message;
    expect(message).toMatch(/Table content_attributes, column v: the row with key \((7|8)\)/);
    expect(message).toContain('--full-refresh content_attributes');
    expect(message).not.toContain('3.14159');
    expect(message).not.toContain('NaN');
    // the file was left as it was
    const rows = await duck((run) => run(`SELECT typeof(v) AS t FROM '${file}' LIMIT 1`));
    expect(rows[0]!.t).toBe('VARCHAR');
  });
});
