import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors.js';
import { AdjustmentNeeded, LoadAdjustments } from '../../src/normalize/adjustments.js';
import { classifyFailure } from '../../src/normalize/load-failure.js';
import { csvBufferSize, DEFAULT_LINE_LIMIT } from '../../src/normalize/csv-read.js';
import { mapColumn, OUT_OF_RANGE_MARKER, type ColumnMapping } from '../../src/normalize/column-mapping.js';
import { withAdjustments } from '../../src/normalize/numeric-measure.js';
import { NormalizeSession } from '../../src/normalize/normalize-session.js';
import { refusedNotes, textFallbacks } from '../../src/normalize/text-fallback.js';
import { writeTypedParquet } from '../../src/normalize/typed-parquet.js';
import { typedRelation, typedSource, type CsvTable } from '../../src/normalize/typed-relation.js';
import type { SourceColumn } from '../../src/source/postgres/source-column.js';

function col(name: string, typeName: string, extra: Partial<SourceColumn> = {}): ColumnMapping {
  return mapColumn({
    name, formatType: typeName, typeName, typeCategory: 'U', elementTypeName: undefined, numericPrecision: undefined, numericScale: undefined, notNull: false, ...extra,
  });
}

const id = col('id', 'int4');
const born = col('born', 'date');
const price = col('price', 'numeric', { numericPrecision: 10, numericScale: 2 });
const amount = col('amount', 'numeric');
const blob = col('blob', 'bytea');
const at = col('at', 'timestamptz');

let dir: string;
let session: NormalizeSession;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ingesta-normalize-'));
  session = await NormalizeSession.open(path.join(dir, 'spill'));
});

afterAll(() => {
  session.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A package table over a CSV file written as PostgreSQL's COPY … (FORMAT csv) would. */
function csvTable(name: string, columns: ColumnMapping[], lines: string[], replaceAll = true): CsvTable & { file: string } {
  const file = path.join(dir, `${name}.csv`);
  const text = lines.map((l) => `${l}\n`).join('');
  writeFileSync(file, text);
  return { name, columns, rows: lines.length, bytes: Buffer.byteLength(text), replaceAll, file };
}

/** The rows of a Parquet file, every value as DuckDB's text of it. */
async function parquetRows(file: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  try {
    await c.run("SET TimeZone = 'UTC'");
    const described = (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`)).getRowObjectsJS();
    const list = described.map((r) => `CAST("${String(r.column_name)}" AS VARCHAR) AS "${String(r.column_name)}"`).join(', ');
    return (await c.runAndReadAll(`SELECT ${list} FROM read_parquet('${file}') ORDER BY 1`)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

describe('normalize: column adjustments (a Map by column, a union of kinds)', () => {
  it('a column DuckDB refused is text for this load; a merge table column stored as text stays text; a full load ignores what is stored', () => {
    const found = new LoadAdjustments();
    found.add({ kind: 'text', table: 't', column: 'born' });
    const table = { name: 't', columns: [id, born, price], replaceAll: false };
    const stored = new Map([['price', 'VARCHAR'], ['born', 'DATE']]);
    expect(textFallbacks(table, stored, found)).toEqual(new Map([
      ['born', { kind: 'text', why: 'refused' }],
      ['price', { kind: 'text', why: 'stored' }],
    ]));
    expect(textFallbacks({ ...table, replaceAll: true }, stored, found)).toEqual(new Map([['born', { kind: 'text', why: 'refused' }]]));
    // names are compared as themselves: a column named like another table's joined key is not confused
    expect(textFallbacks({ ...table, name: 't\u0000born' }, new Map(), found).size).toBe(0);
  });

  it('applies text (a date without its out-of-range marker) and a measured DECIMAL(38, s) (read through DECIMAL(18, s) when it fits)', () => {
    const [d, a, b] = withAdjustments([born, amount, { ...amount, name: 'big' }], new Map([
      ['born', { kind: 'text', why: 'refused' }],
      ['amount', { kind: 'decimal', scale: 9, intDigits: 5 }],
      ['big', { kind: 'decimal', scale: 9, intDigits: 20 }],
    ]));
    expect(d).toMatchObject({ destinationType: 'VARCHAR', csvType: 'VARCHAR' });
    expect(d!.castSql).toContain(OUT_OF_RANGE_MARKER);
    expect(a).toMatchObject({ destinationType: 'DECIMAL(38,9)', csvType: 'DECIMAL(18,9)', castSql: 'CAST("amount" AS DECIMAL(38,9))' });
    expect(b).toMatchObject({ destinationType: 'DECIMAL(38,9)', csvType: 'VARCHAR' });
  });

  it('notes a refused column by its declared type, in place only on a merge table whose stored column was not text', () => {
    const found = new LoadAdjustments();
    found.add({ kind: 'text', table: 't', column: 'born' });
    found.add({ kind: 'text', table: 't', column: 'price' });
    const notes = refusedNotes({ name: 't', columns: [id, born, price], replaceAll: false }, new Map([['born', 'DATE'], ['price', 'VARCHAR']]), found);
    expect(notes).toHaveLength(2);
    expect(notes[0]).toMatch(/t\.born holds a date or timestamp .* changed to VARCHAR/);
    expect(notes[1]).toMatch(/t\.price holds a number .* loaded as VARCHAR/);
  });
});

describe('normalize: the typed relation of a package CSV', () => {
  it('measures unconstrained numerics on the file: the scale that holds every value, or exact text with a note', async () => {
    const table = csvTable('measured', [id, amount, { ...amount, name: 'wild', sourceName: 'wild', castSql: '"wild"' }], [
      '1,1.5,NaN',
      '2,123456789.1234567891,2',
      '3,,',
    ]);
    // read once first, assuming DECIMAL(38,9) and checking each value: 10 fraction digits and NaN stop the read
    const assumed = await typedRelation(session, table, table.file, new Map(), new LoadAdjustments());
    expect(assumed.columns.map((c) => c.destinationType)).toEqual(['INTEGER', 'DECIMAL(38,9)', 'DECIMAL(38,9)']);
    const failure = await session.query(`SELECT * FROM ${typedSource(assumed)}`).then(() => undefined, (e: unknown) => e);
    const adjustment = classifyFailure(failure, table, false, 'into DuckDB');
    expect(adjustment).toBeInstanceOf(AdjustmentNeeded);
    expect((adjustment as AdjustmentNeeded).adjustment).toEqual({ kind: 'measure', table: 'measured' });
    const found = new LoadAdjustments();
    found.add({ kind: 'measure', table: 'measured' });
    const relation = await typedRelation(session, table, table.file, new Map(), found);
    expect(relation.adjustments).toEqual(new Map([
      ['amount', { kind: 'decimal', scale: 10, intDigits: 9 }],
      ['wild', { kind: 'text', why: 'measured' }],
    ]));
    expect(relation.columns.map((c) => c.destinationType)).toEqual(['INTEGER', 'DECIMAL(38,10)', 'VARCHAR']);
    expect(relation.notes).toEqual([expect.stringMatching(/^measured\.wild holds a number no DECIMAL holds exactly/)]);
    const rows = await session.query(`SELECT CAST(amount AS VARCHAR) AS a, wild FROM ${typedSource(relation)} ORDER BY id`);
    expect(rows).toEqual([{ a: '1.5000000000', wild: 'NaN' }, { a: '123456789.1234567891', wild: '2' }, { a: null, wild: null }]);
  });

  it('an empty table is not read: an empty relation of the declared types', async () => {
    const table = csvTable('empty', [id, amount, at], []);
    const relation = await typedRelation(session, table, table.file, new Map(), new LoadAdjustments());
    expect(relation.read(relation.columns)).toBeUndefined();
    const described = await session.query(`DESCRIBE SELECT * FROM ${typedSource(relation)}`);
    expect(described.map((r) => r.column_type)).toEqual(['INTEGER', 'DECIMAL(38,9)', 'TIMESTAMP WITH TIME ZONE']);
  });
});

describe('normalize: typed Parquet (what the Athena destination publishes)', () => {
  it('a BC date makes the column exact text, once, with a note; other values stay exact (bytea, timestamptz, numeric)', async () => {
    const table = csvTable('bc', [id, born, blob, at, price], [
      `1,${OUT_OF_RANGE_MARKER}0044-03-15 BC,00ff10,2024-05-01 10:00:00.123456+02,12.30`,
      '2,2024-02-29,,infinity,-0.01',
    ]);
    const out = path.join(dir, 'bc.parquet');
    const typed = await writeTypedParquet(session, table, table.file, out, (name) => `"${name}"`);
    expect(typed.columns).toEqual([['id', 'INTEGER'], ['born', 'VARCHAR'], ['blob', 'BLOB'], ['at', 'TIMESTAMP WITH TIME ZONE'], ['price', 'DECIMAL(10,2)']]);
    expect(typed.notes).toEqual([expect.stringMatching(/^bc\.born holds a date or timestamp outside the range ingesta types exactly .* loaded as VARCHAR/)]);
    expect(await parquetRows(`${out}/*.parquet`)).toEqual([
      { id: '1', born: '0044-03-15 BC', blob: '\\x00\\xFF\\x10', at: '2024-05-01 08:00:00.123456+00', price: '12.30' },
      { id: '2', born: '2024-02-29', blob: null, at: 'infinity', price: '-0.01' },
    ]);
  });

  it('NaN in a numeric(p,s) keeps its exact text; each column goes through the destination\'s Parquet expression', async () => {
    const table = csvTable('nan', [id, price], ['1,NaN', '2,1.25']);
    const out = path.join(dir, 'nan.parquet');
    const typed = await writeTypedParquet(session, table, table.file, out, (name, type) => (type === 'INTEGER' ? `CAST("${name}" AS BIGINT)` : `"${name}"`));
    expect(typed.columns).toEqual([['id', 'INTEGER'], ['price', 'VARCHAR']]);
    expect(await parquetRows(`${out}/*.parquet`)).toEqual([{ id: '1', price: 'NaN' }, { id: '2', price: '1.25' }]);
  });

  it('a record over DuckDB\'s default CSV line limit is read again with a limit sized to the file, every character kept', async () => {
    const long = 'x'.repeat(3 * 2 ** 20);
    const table = csvTable('long', [id, col('body', 'text')], ['1,short', `2,"${long}"`]);
    const out = path.join(dir, 'long.parquet');
    const typed = await writeTypedParquet(session, table, table.file, out, (name) => `"${name}"`);
    expect(typed.notes).toEqual([]);
    const rows = await parquetRows(out);
    expect(rows.map((r) => String(r.body).length)).toEqual([5, long.length]);
  });

  it('the CSV buffer is sized from the memory limit and threads (regression: 32 MB buffers on 2 threads ran out of memory at the default 128 MB)', () => {
    expect(csvBufferSize(128 * 2 ** 20, 2)).toBe(8 * 2 ** 20);
    expect(csvBufferSize(128e6, 2)).toBe(8 * 2 ** 20); // the default 128MB as DuckDB applies it: rounded up to 8 MiB
    expect(csvBufferSize(128 * 2 ** 20, 1)).toBe(16 * 2 ** 20);
    // never below what DuckDB requires (more than the line limit), never above its own default
    expect(csvBufferSize(24 * 2 ** 20, 2)).toBe(DEFAULT_LINE_LIMIT + 2 ** 20);
    expect(csvBufferSize(2 ** 30, 2)).toBe(16 * DEFAULT_LINE_LIMIT);
  });

  it('a record just under the default line limit that crosses the smaller CSV buffer loads exactly, without the line-limit adjustment', async () => {
    const small = await NormalizeSession.open(path.join(dir, 'spill-buffer'), { memoryLimit: '24MB', threads: 2, parquetFileSize: '256MB' });
    try {
      expect(small.csvBufferBytes).toBe(DEFAULT_LINE_LIMIT + 2 ** 20);
      const value = 'ab",\ncd é\t'.repeat(155_000);
      const field = `"${value.replaceAll('"', '""')}"`;
      expect(Buffer.byteLength(field)).toBeGreaterThan(0.9 * DEFAULT_LINE_LIMIT);
      expect(Buffer.byteLength(field)).toBeLessThan(DEFAULT_LINE_LIMIT - 100);
      // ≈ 2.5 MB of short records first: the long one starts inside the first buffer and ends in the second
      const short = (from: number) => Array.from({ length: 2500 }, (_, i) => `${from + i},${'s'.repeat(1000)}`);
      const table = csvTable('crossing', [id, col('body', 'text')], [...short(1), `2501,${field}`, ...short(2502)]);
      const relation = await typedRelation(small, table, table.file, new Map(), new LoadAdjustments());
      expect(relation.lineLimit).toBeUndefined();
      expect(relation.read(relation.columns)).toContain(`buffer_size = ${DEFAULT_LINE_LIMIT + 2 ** 20})`);
      const rows = await small.query(`SELECT count(*)::INTEGER AS n, max(length(body)) FILTER (WHERE id = 2501)::INTEGER AS len, max(md5(body)) FILTER (WHERE id = 2501) AS h FROM ${typedSource(relation)}`);
      expect(rows).toEqual([{ n: 5001, len: value.length, h: createHash('md5').update(value, 'utf8').digest('hex') }]);
    } finally {
      small.close();
    }
  });

  it('a table DuckDB runs out of memory on is typed again with 4 times the memory limit, with a note (regression: exit 4 in 2 of 10 hard-data loads at the default limit)', async () => {
    const small = await NormalizeSession.open(path.join(dir, 'spill-small'), { memoryLimit: '24MB', threads: undefined, parquetFileSize: '256MB' });
    try {
      const body = col('body', 'text');
      const lines = Array.from({ length: 60_000 }, (_, i) => `${i + 1},${'abcdef0123456789'.repeat(100)}${i}`);
      const table = csvTable('roomy', [id, body], lines);
      const typed = await writeTypedParquet(small, table, table.file, path.join(dir, 'roomy.parquet'), (name) => `"${name}"`);
      expect(typed.notes).toEqual([expect.stringMatching(/^DuckDB ran out of memory within the 23 MiB memory limit; the load was started over with 9[12] MiB for this table\. Raise INGESTA_DUCKDB_MEMORY_LIMIT/)]);
      expect(await small.query(`SELECT count(*)::INTEGER AS n FROM read_parquet('${path.join(dir, 'roomy.parquet')}/*.parquet')`)).toEqual([{ n: 60_000 }]);
      // the session's limit is back to the configured one
      expect(await small.query("SELECT current_setting('memory_limit') AS m")).toEqual([{ m: expect.stringMatching(/^2[23]\.\d+ MiB$/) }]);
    } finally {
      small.close();
    }
  });

  it('a value no fallback is for stops with a DataError that names table, column and the real destination, never the value (regression: "into DuckDB" on Athena)', async () => {
    const table = csvTable('bad', [id, col('n', 'int4')], ['1,secret-value']);
    const error = await writeTypedParquet(session, table, table.file, path.join(dir, 'bad.parquet'), (name) => `"${name}"`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as Error).message).toMatch(/^Loading table bad as Parquet for Athena failed: .*column n .*holds a value that cannot be converted to INTEGER/);
    expect((error as Error).message).not.toMatch(/DuckDB/);
    expect((error as Error).message).not.toContain('secret-value');
  });
});
