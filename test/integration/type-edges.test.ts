import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckColumnTypes, duckQuery } from '../helpers/duckdb.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

let db: TestDatabase;
let dir: string;
let duckdbPath: string;
let catalog: string;
const DATASET = 'edges';

const ingest = (...args: string[]) =>
  runCli(['--env', 'local', '--duckdb-path', duckdbPath, '--catalog', catalog, '--dataset', DATASET, ...args], { DATABASE_URL: db.url });

beforeAll(async () => {
  db = await createTestDatabase();
  await db.query(`CREATE TABLE edge (
    id integer PRIMARY KEY, n numeric, n2 numeric(12,4), big numeric(50,10), f float8, r real, b boolean, d date,
    ts timestamp, tz timestamptz, tm time, u uuid, j jsonb, arr integer[], tags text[], by bytea, t text, i bigint,
    updated_at timestamptz NOT NULL DEFAULT now())`);
  await db.query(`INSERT INTO edge VALUES
    (1, 9.5, 1.2345, 12345678901234567890123456789012345678.0123456789, 'NaN', 'Infinity', true, '2024-02-29',
     '2024-06-01 12:00:00.123456', '2024-06-01 12:00:00.654321+02', '23:59:59.999999', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
     '{"a": [1, 2, {"b": null}], "ü": "ñ"}', '{1,NULL,3}', '{"x,y","",NULL,"q\\"uote"}', '\\x00ff10', E'a\\tb\\nc', 9223372036854775807),
    (2, -10.25, -0.0001, NULL, '-Infinity', 1.5, false, 'infinity', '-infinity', 'infinity', '00:00:00', NULL,
     'null', '{}', '{}', '\\x', '', -9223372036854775808),
    (3, 0.123456789, 0, 0, 1e-300, -0.0, NULL, '0001-01-01', '1970-01-01 00:00:00', '1970-01-01 00:00:00+00', NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, 0)`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-types-'));
  duckdbPath = path.join(dir, 'edges.duckdb');
  catalog = path.join(dir, 'catalog.yaml');
  writeFileSync(catalog, `version: 1\ndataset_prefix: edges\ntables:\n  edge:\n    primary_key: [id]\n    write_disposition: merge\n    incremental:\n      cursor_column: updated_at\n`);
});

afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('values keep their exact value and type (regression: a dataset named like the DuckDB file was ambiguous)', () => {
  it('loads awkward values of many types exactly', async () => {
    const r = await ingest();
    expect(r.code, r.stderr).toBe(0);
    const types = await duckColumnTypes(duckdbPath, DATASET, 'edge');
    expect(types).toMatchObject({
      id: 'INTEGER', n: 'DECIMAL(38,9)', n2: 'DECIMAL(12,4)', big: 'VARCHAR', f: 'DOUBLE', r: 'FLOAT', b: 'BOOLEAN', d: 'DATE',
      ts: 'TIMESTAMP', tz: 'TIMESTAMP WITH TIME ZONE', tm: 'TIME', u: 'UUID', j: 'JSON', arr: 'INTEGER[]', tags: 'VARCHAR[]',
      by: 'BLOB', t: 'VARCHAR', i: 'BIGINT',
    });
    const rows = await duckQuery(
      duckdbPath,
      `SELECT id, n::VARCHAR n, n2::VARCHAR n2, big, f::VARCHAR f, r::VARCHAR r, b, d::VARCHAR d, ts::VARCHAR ts, tz::VARCHAR tz, tm::VARCHAR tm,
              u::VARCHAR u, j::VARCHAR j, arr::VARCHAR arr, tags, hex("by") AS "by", t, i::VARCHAR i FROM edges.${DATASET}.edge ORDER BY id`,
    );
    expect(rows[0]).toMatchObject({
      n: '9.500000000', n2: '1.2345', big: '12345678901234567890123456789012345678.0123456789', f: 'nan', r: 'inf', b: true,
      d: '2024-02-29', ts: '2024-06-01 12:00:00.123456', tz: '2024-06-01 10:00:00.654321+00', tm: '23:59:59.999999',
      u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', arr: '[1, NULL, 3]', tags: ['x,y', '', null, 'q"uote'], by: '00FF10', t: 'a\tb\nc',
      i: '9223372036854775807',
    });
    expect(JSON.parse(String(rows[0]!.j))).toEqual({ a: [1, 2, { b: null }], ü: 'ñ' });
    expect(rows[1]).toMatchObject({ n: '-10.250000000', n2: '-0.0001', big: null, f: '-inf', d: 'infinity', ts: '-infinity', tz: 'infinity', by: '', t: '', i: '-9223372036854775808' });
    expect(rows[2]).toMatchObject({ n: '0.123456789', d: '0001-01-01', b: null, t: null, by: null, arr: null });
  });

  it('an unconstrained numeric with more than 9 decimals widens the column instead of being rounded', async () => {
    await db.query(`INSERT INTO edge (id, n) VALUES (4, 1.0000000001), (6, 43.123456789012345)`);
    const r = await ingest();
    expect(r.code, r.stderr).toBe(0);
    expect((await duckColumnTypes(duckdbPath, DATASET, 'edge')).n).toBe('DECIMAL(38,15)');
    const rows = await duckQuery(duckdbPath, `SELECT id, n::VARCHAR AS n FROM edges.${DATASET}.edge WHERE id IN (1, 4, 6) ORDER BY id`);
    expect(rows.map((x) => x.n)).toEqual(['9.500000000000000', '1.000000000100000', '43.123456789012345']);
  });

  it('unconstrained numerics read through the fast 18-digit path keep every digit at and around its boundary', async () => {
    // 9 + 9 digits take the 64-bit CSV parser, 10 + 9 the text path; trailing zeros beyond the scale, signs, zeros
    await db.query(`CREATE TABLE num_edges (id integer PRIMARY KEY, a numeric, b numeric)`);
    await db.query(`INSERT INTO num_edges VALUES
      (1, 999999999.999999999, 9999999999.999999999), (2, -999999999.999999999, -0.000000001), (3, 1.1000000000000, 0),
      (4, -0.000000001, NULL), (5, NULL, 1), (6, 0.5, -9999999999.5)`);
    const r = await runCli(['--env', 'local', '--duckdb-path', duckdbPath, '--dataset', DATASET, '--tables', 'num_edges'], { DATABASE_URL: db.url });
    expect(r.code, r.stderr).toBe(0);
    const types = await duckColumnTypes(duckdbPath, DATASET, 'num_edges');
    expect([types.a, types.b]).toEqual(['DECIMAL(38,9)', 'DECIMAL(38,9)']);
    const dest = await duckQuery(duckdbPath, `SELECT id, a::VARCHAR AS a, b::VARCHAR AS b FROM edges.${DATASET}.num_edges ORDER BY id`);
    const src = await db.query(`SELECT id, round(a, 9)::text AS a, round(b, 9)::text AS b FROM num_edges ORDER BY id`);
    expect(dest.map((x) => [String(x.id), x.a, x.b])).toEqual(src.map((x) => [x.id, x.a, x.b]));
  });

  it('a numeric value no DuckDB decimal can hold turns the column into its exact text, and says so', async () => {
    await db.query(`INSERT INTO edge (id, n) VALUES (7, 12345678901234567890123456789012.0123456789)`);
    const r = await ingest();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('edge.n holds a number no DECIMAL holds exactly');
    expect(r.stdout).toContain('changed to VARCHAR');
    // the warning never shows a value
    expect(r.stdout).not.toContain('12345678901234567890123456789012.0123456789');
    expect((await duckColumnTypes(duckdbPath, DATASET, 'edge')).n).toBe('VARCHAR');
    const rows = await duckQuery(duckdbPath, `SELECT n FROM edges.${DATASET}.edge WHERE id = 7`);
    expect(rows[0]!.n).toBe('12345678901234567890123456789012.0123456789');
  });

  it('a text value longer than DuckDB\'s default CSV line limit loads exactly (regression: the limit was raised for every file, halving speed)', async () => {
    await db.query(`INSERT INTO edge (id, t) VALUES (8, repeat('x', 3000000) || E'\n' || repeat('é', 1000000))`);
    const r = await ingest();
    expect(r.code, r.stderr).toBe(0);
    const rows = await duckQuery(duckdbPath, `SELECT length(t) AS n, md5(t) AS h FROM edges.${DATASET}.edge WHERE id = 8`);
    const src = await db.query(`SELECT length(t)::int AS n, md5(t) AS h FROM edge WHERE id = 8`);
    expect(Number(rows[0]!.n)).toBe(Number(src[0]!.n));
    expect(rows[0]!.h).toBe(src[0]!.h);
    await db.query(`DELETE FROM edge WHERE id = 8`);
  });

  it('a BC date inside a date[] is refused loudly too (regression: arrays skipped the BC guard)', async () => {
    await db.query(`CREATE TABLE dates (id integer PRIMARY KEY, ds date[], tss timestamp[])`);
    await db.query(`INSERT INTO dates VALUES (1, '{2024-01-01,NULL,infinity}', '{"2024-01-01 10:00:00.5"}')`);
    const cat = path.join(dir, 'dates.yaml');
    writeFileSync(cat, 'version: 1\ntables:\n  dates:\n    primary_key: [id]\n');
    const file = path.join(dir, 'dates.duckdb');
    const args = ['--env', 'local', '--duckdb-path', file, '--catalog', cat, '--dataset', 'd'];
    const ok = await runCli(args, { DATABASE_URL: db.url });
    expect(ok.code, ok.stderr).toBe(0);
    const rows = await duckQuery(file, `SELECT ds::VARCHAR AS ds, tss::VARCHAR AS tss FROM d.dates`);
    expect(rows[0]).toEqual({ ds: '[2024-01-01, NULL, infinity]', tss: "['2024-01-01 10:00:00.5']" });
    await db.query(`INSERT INTO dates VALUES (2, '{2024-01-01,"0044-03-15 BC"}', NULL)`);
    const bad = await runCli(args, { DATABASE_URL: db.url });
    expect(bad.code).toBe(4);
    expect(bad.stderr).toContain('column ds holds a date or timestamp outside the range ingesta types exactly');
    expect(bad.stderr).not.toContain('0044');
  });

  it('a BC date is kept as exact text, never shifted to AD (lossless rule), and the column stays text on merge', async () => {
    await db.query(`INSERT INTO edge (id, d) VALUES (5, '0044-03-15 BC')`);
    const r = await ingest();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('edge.d holds a date or timestamp outside the range ingesta types exactly');
    expect((await duckColumnTypes(duckdbPath, DATASET, 'edge')).d).toBe('VARCHAR');
    const rows = await duckQuery(duckdbPath, `SELECT id, d FROM edges.${DATASET}.edge WHERE id IN (1, 2, 5) ORDER BY id`);
    expect(rows.map((x) => x.d)).toEqual(['2024-02-29', 'infinity', '0044-03-15 BC']);
    await db.query(`UPDATE edge SET d = '2020-01-01', updated_at = now() WHERE id = 5`);
    const next = await ingest();
    expect(next.code, next.stderr).toBe(0);
    expect((await duckQuery(duckdbPath, `SELECT d FROM edges.${DATASET}.edge WHERE id = 5`))[0]!.d).toBe('2020-01-01');
  });
});
