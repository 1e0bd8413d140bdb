import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decimalColumn } from '../../src/normalize/numeric-measure.js';
import { checkedWideDecimalCast, declaredWideDecimalCast, UNFIT_NUMERIC_MARKER, wideDecimalCast } from '../../src/normalize/wide-decimal.js';
import { failedColumn } from '../../src/normalize/duckdb-errors.js';
import type { ColumnMapping } from '../../src/normalize/column-mapping.js';

// Regression: an unconstrained numeric wider than 18 digits went through DuckDB's VARCHAR → DECIMAL(38, s) cast,
// ≈ 100–250 µs per value (a hard-data full load spent most of its DuckDB time there); the 128-bit integer route
// must give the very same DECIMAL(38, s) value for every text PostgreSQL can send that the measurement admits.
describe('wide numerics are cast to DECIMAL(38, s) through a 128-bit integer, value for value', () => {
  let instance: DuckDBInstance;
  let query: (sql: string) => Promise<Record<string, unknown>[]>;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    query = async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  });
  afterAll(() => instance.closeSync());

  const cases: Record<number, (string | null)[]> = {
    0: ['0', '-0', '5.000', '99999999999999999999999999999999999999', '-99999999999999999999999999999999999999', null],
    2: ['0.0', '-0.01', '1.10000000000000000000', '00012.5', '-999999999999999999999999999999999999.99', null],
    9: ['-0.000000001', '12345678901234567890123456789.123456789', '-12345678901234567890123456789.123456789', '7', '1.5', null],
    20: ['123456789012345678.12345678901234567890', '-0.00000000000000000001', '3', null],
  };
  for (const [scale, values] of Object.entries(cases).map(([s, v]) => [Number(s), v] as const)) {
    it(`DECIMAL(38,${scale}): the same value and type as DuckDB's own cast`, async () => {
      const rows = await query(
        `SELECT x, CAST(x AS DECIMAL(38,${scale}))::VARCHAR AS slow, (${wideDecimalCast('x', scale)})::VARCHAR AS fast, typeof(${wideDecimalCast('x', scale)}) AS type ` +
          `FROM (VALUES ${values.map((v) => (v === null ? '(NULL)' : `('${v}')`)).join(', ')}) AS v(x)`,
      );
      expect(rows).toHaveLength(values.length);
      for (const r of rows) {
        expect(r.fast, String(r.x)).toBe(r.slow);
        expect(r.type).toBe(`DECIMAL(38,${scale})`);
      }
    });
  }

  it('30,000 random values of 1–27 integer and 0–9 (+ trailing zero) fraction digits: no difference', async () => {
    await query(`CREATE TABLE r AS SELECT (CASE WHEN random() < 0.3 THEN '-' ELSE '' END) ||
      left(CAST(1e8 + floor(random() * 9e8) AS BIGINT)::VARCHAR || lpad(CAST(floor(random() * 1e9) AS BIGINT)::VARCHAR, 9, '0') || lpad(CAST(floor(random() * 1e9) AS BIGINT)::VARCHAR, 9, '0'), 1 + CAST(floor(random() * 27) AS INT)) ||
      CASE WHEN random() < 0.2 THEN '' ELSE '.' || left(lpad(CAST(floor(random() * 1e9) AS BIGINT)::VARCHAR, 9, '0'), 1 + CAST(floor(random() * 9) AS INT)) || repeat('0', CAST(floor(random() * 5) AS INT)) END AS x
      FROM range(30000)`);
    const [row] = await query(`SELECT count(*) FILTER (WHERE CAST(x AS DECIMAL(38,9)) IS DISTINCT FROM ${wideDecimalCast('x', 9)}) AS diff FROM r`);
    expect(Number(row?.diff)).toBe(0);
  });

  it('decimalColumn uses it only for measured values wider than 18 digits', () => {
    const c = { name: 'n', sourceName: 'n', sourceType: 'numeric', destinationType: 'DECIMAL(38,9)', selectSql: '"n"', csvType: 'VARCHAR', castSql: '"n"', guard: 'unconstrained_numeric' } satisfies ColumnMapping;
    expect(decimalColumn(c, 9, 5)).toMatchObject({ csvType: 'DECIMAL(18,9)', castSql: 'CAST("n" AS DECIMAL(38,9))' });
    expect(decimalColumn(c, 9, 25)).toMatchObject({ csvType: 'VARCHAR', castSql: wideDecimalCast('n', 9), destinationType: 'DECIMAL(38,9)' });
    // not measured (a merge batch without values): DuckDB's own, validating cast
    expect(decimalColumn(c, 9, 38).castSql).toBe('CAST("n" AS DECIMAL(38,9))');
  });
});

// Regression (#16): a full load read every package CSV twice when a table had an unconstrained numeric (a pass to
// measure it, then the load); the single read assumes a scale and checks each value, failing only with its marker.
describe('checked wide cast: value for value where the assumed scale fits, a marked failure where it does not', () => {
  let instance: DuckDBInstance;
  let query: (sql: string) => Promise<Record<string, unknown>[]>;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    query = async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  });
  afterAll(() => instance.closeSync());
  const rowsOf = (values: (string | null)[]) => `(VALUES ${values.map((v) => (v === null ? '(NULL)' : `('${v}')`)).join(', ')}) AS v(x)`;

  const fits: Record<number, (string | null)[]> = {
    0: ['0', '-7', '99999999999999999999999999999999999999', '12.000', null],
    3: ['-0.001', '12345678901234567890123456789012345.125', '4.50000000000000000000', null],
    9: ['0.123456789', '-12345678901234567890123456789.123456789', '1.10000000000000000000', '00012.5', null],
    38: ['0.12345678901234567890123456789012345678', '-0.5', '0', null],
  };
  for (const [scale, values] of Object.entries(fits).map(([s, v]) => [Number(s), v] as const)) {
    it(`DECIMAL(38,${scale}): the same value and type as DuckDB's own cast`, async () => {
      const rows = await query(`SELECT x, CAST(x AS DECIMAL(38,${scale}))::VARCHAR AS slow, (${checkedWideDecimalCast('x', scale)})::VARCHAR AS fast, typeof(${checkedWideDecimalCast('x', scale)}) AS type FROM ${rowsOf(values)}`);
      expect(rows).toHaveLength(values.length);
      for (const r of rows) {
        expect(r.fast, String(r.x)).toBe(r.slow);
        expect(r.type).toBe(`DECIMAL(38,${scale})`);
      }
    });
  }

  const unfit: [number, string][] = [
    [9, '1.1234567891'],
    [9, '123456789012345678901234567890'],
    [9, 'NaN'],
    [9, 'Infinity'],
    [9, '-Infinity'],
    [0, '0.5'],
    [38, '1.5'],
    [3, '-1.0001'],
  ];
  for (const [scale, value] of unfit) {
    it(`DECIMAL(38,${scale}) refuses ${value} with the marker, quoting no value`, async () => {
      const error = await query(`SELECT ${checkedWideDecimalCast('x', scale)} AS v FROM ${rowsOf(['1', value, null])}`).then(
        () => undefined,
        (e: unknown) => String(e),
      );
      expect(error).toContain(UNFIT_NUMERIC_MARKER);
      expect(error).not.toContain(value);
    });
  }
});

// Regression (#16): a declared numeric(p > 18, s) went through DuckDB's own text → DECIMAL(p) parser (≈ 100–250 µs
// per value); the 128-bit route must give the same DECIMAL(p, s) value, and NaN must still fail naming the column.
describe('declared wide numerics are cast through a 128-bit integer, value for value, NaN still refused by DuckDB', () => {
  let instance: DuckDBInstance;
  let query: (sql: string) => Promise<Record<string, unknown>[]>;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    query = async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  });
  afterAll(() => instance.closeSync());

  const cases: [number, number, (string | null)[]][] = [
    [20, 2, ['0.00', '-0.01', '123456789012345678.99', '-123456789012345678.99', '7.50', null]],
    [38, 0, ['99999999999999999999999999999999999999', '-1', '0', null]],
    [30, 30, ['0.123456789012345678901234567890', '-0.000000000000000000000000000001', null]],
    [25, 10, ['123456789012345.1234567890', '1.0000000000', null]],
  ];
  for (const [p, s, values] of cases) {
    it(`DECIMAL(${p},${s}): the same value and type as DuckDB's own cast`, async () => {
      const rows = await query(
        `SELECT x, CAST(x AS DECIMAL(${p},${s}))::VARCHAR AS slow, (${declaredWideDecimalCast('x', p, s)})::VARCHAR AS fast, typeof(${declaredWideDecimalCast('x', p, s)}) AS type ` +
          `FROM (VALUES ${values.map((v) => (v === null ? '(NULL)' : `('${v}')`)).join(', ')}) AS v(x)`,
      );
      expect(rows).toHaveLength(values.length);
      for (const r of rows) {
        expect(r.fast, String(r.x)).toBe(r.slow);
        expect(r.type).toBe(`DECIMAL(${p},${s})`);
      }
    });
  }

  it('NaN fails with DuckDB\'s conversion error, naming the column (what the text fallback looks for)', async () => {
    const error = await query(`SELECT ${declaredWideDecimalCast('price', 20, 2)} FROM (VALUES ('1.50'), ('NaN')) AS v(price)`).then(
      () => '',
      (e: unknown) => String(e),
    );
    expect(failedColumn(error)).toBe('price');
    expect(error).toContain('"NaN"');
  });
});
