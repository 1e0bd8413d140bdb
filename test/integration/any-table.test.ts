import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckColumnTypes, duckQuery, duckTable, duckTableDigest } from '../helpers/duckdb.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

let db: TestDatabase;
let dir: string;
let duckdbPath: string;
const DATASET = 'raw_any';

const ingest = (...args: string[]) => runCli(['--env', 'local', '--duckdb-path', duckdbPath, '--dataset', DATASET, ...args], { DATABASE_URL: db.url });

/**
 * Compares a source table with its destination table value for value: each column is turned into the same text on
 * both sides (PostgreSQL computes the canonical text, DuckDB the same expression), rows sorted by every column.
 */
async function expectSameRows(sourceTable: string, destTable: string, columns: { name: string; pg: string; duck: string }[]): Promise<void> {
  const order = columns.map((_, i) => i + 1).join(', ');
  const pgRows = await db.query(`SELECT ${columns.map((c, i) => `(${c.pg}) AS c${i}`).join(', ')} FROM ${sourceTable} ORDER BY ${order}`);
  const duckRows = await duckQuery(duckdbPath, `SELECT ${columns.map((c, i) => `(${c.duck}) AS c${i}`).join(', ')} FROM ${destTable} ORDER BY ${order}`);
  // DuckDB prints a whole double as 15.0 where PostgreSQL prints 15: the same value
  const text = (v: unknown) => (v === null || v === undefined ? null : String(v).replace(/^(-?\d+)\.0$/, '$1'));
  const norm = (rows: Record<string, unknown>[]) => rows.map((r) => columns.map((_, i) => text(r[`c${i}`])));
  expect(norm(duckRows)).toEqual(norm(pgRows));
}

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-any-'));
  duckdbPath = path.join(dir, 'any.duckdb');
  await db.query(`CREATE SCHEMA "Sales Data"`);
  await db.query(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`);
  await db.query(`CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0)`);
  await db.query(`CREATE TABLE "Sales Data"."Order Lines" (
    "Order ID" integer, "line#" smallint, "Amount €" numeric(12,2), "select" text, "Name" text, "name" text,
    PRIMARY KEY ("Order ID", "line#"))`);
  await db.query(`INSERT INTO "Sales Data"."Order Lines" VALUES (1, 1, 10.50, 'a', 'Upper', 'lower'), (1, 2, -0.01, NULL, NULL, ''), (2, 1, 0, 'x"y', 'Ü', 'ü')`);
  await db.query(`CREATE TABLE keyless (a integer, b text)`);
  await db.query(`INSERT INTO keyless VALUES (1, 'dup'), (1, 'dup'), (1, 'dup'), (2, NULL), (NULL, NULL), (NULL, NULL)`);
  await db.query(`CREATE TABLE measurements (id bigint, taken_on date NOT NULL, value double precision, PRIMARY KEY (id, taken_on)) PARTITION BY RANGE (taken_on)`);
  await db.query(`CREATE TABLE measurements_2023 PARTITION OF measurements FOR VALUES FROM ('2023-01-01') TO ('2024-01-01')`);
  await db.query(`CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`);
  await db.query(`INSERT INTO measurements SELECT i, DATE '2023-06-01' + (i * 3 % 500), i / 7.0 FROM generate_series(1, 300) i`);
  await db.query(`CREATE TABLE "MixedCase" (id int PRIMARY KEY, v text)`);
  await db.query(`INSERT INTO "MixedCase" VALUES (1, 'm')`);
  await db.query(`CREATE TABLE all_types (
    id integer PRIMARY KEY, i2 smallint, i8 bigint, n numeric, n2 numeric(10,2), nbig numeric(60,20), r real, d double precision,
    b boolean, t text, vc varchar(5), ch char(4), dt date, tm time, tmtz timetz, ts timestamp, tstz timestamptz, iv interval,
    u uuid, j json, jb jsonb, ai integer[], at text[], a2 integer[][], by bytea, ip inet, cidr_col cidr, mac macaddr,
    m mood, pos positive_int, tsv tsvector, pt point, bx box, money_col money, bits bit(4),
    g integer GENERATED ALWAYS AS (i2 * 2) STORED)`);
  await db.query(`INSERT INTO all_types VALUES
    (1, 32767, 9223372036854775807, 123456789012345678901234567890.123456789, 12345678.90, 12345678901234567890123456789012345678.12345678901234567890,
     3.4028235e38, 1.7976931348623157e308, true, E'quote '' "dq" \\\\ tab\\t nl\\n 🎉', 'abcde', 'ab', '2024-02-29', '23:59:59.999999', '12:00:00+05:30',
     '2024-06-01 12:00:00.000001', '2024-06-01 23:59:59.999999+00', '1 year 2 mons 3 days 04:05:06.789', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
     '{"k": [1, "two", null]}', '{"z": 1, "a": {"b": [true, false]}}', '{1,NULL,-3}', '{"a,b","",NULL,"\\"q\\""}', '{{1,2},{3,NULL}}', '\\x00ff7f80',
     '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', 'happy', 7, 'a fat cat', '(1.5,2)', '((0,0),(1,1))', 12.34, B'1010', DEFAULT),
    (2, -32768, -9223372036854775808, -0.000000001, -0.01, 0, 'NaN', '-Infinity', false, '', '', '', 'infinity', '00:00:00', '00:00:00-11',
     '-infinity', 'infinity', '-1 days +02:03:00', '00000000-0000-0000-0000-000000000000',
     'null', '[]', '{}', '{}', '{}', '\\x', '::1', '::/0', 'ff:ff:ff:ff:ff:ff', 'sad', 1, '', '(0,0)', '((0,0),(0,0))', -0.01, B'0000', DEFAULT),
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, DEFAULT)`);
});

afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('any table named with --tables', () => {
  it('loads tables outside the catalog: quoted schema and names, mixed case, keyless with duplicates, partitioned', async () => {
    const r = await ingest('--tables', '"Sales Data"."Order Lines"', 'keyless', 'measurements', '"MixedCase"', 'all_types');
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('column "name" is loaded as "name__2"');
    // regression: a keyless table named on the command line was reported as disagreeing with an empty catalog key
    expect(r.stdout).not.toContain('declares no primary key');
    expect(r.stdout).toContain('all_types.n holds a number no DECIMAL holds exactly');
    expect(r.stdout).not.toContain('123456789012345678901234567890.123456789');

    const tables = await duckQuery(duckdbPath, `SELECT table_name FROM duckdb_tables() WHERE schema_name = '${DATASET}' AND NOT starts_with(table_name, '_') ORDER BY 1`);
    expect(tables.map((t) => t.table_name)).toEqual(['MixedCase', 'Order Lines', 'all_types', 'keyless', 'measurements']);

    await expectSameRows('"Sales Data"."Order Lines"', `${DATASET}."Order Lines"`, [
      { name: 'id', pg: `"Order ID"::text`, duck: `"Order ID"::VARCHAR` },
      { name: 'line', pg: `"line#"::text`, duck: `"line#"::VARCHAR` },
      { name: 'amount', pg: `"Amount €"::text`, duck: `"Amount €"::VARCHAR` },
      { name: 'select', pg: `"select"`, duck: `"select"` },
      { name: 'Name', pg: `"Name"`, duck: `"Name"` },
      { name: 'name', pg: `"name"`, duck: `"name__2"` },
    ]);
    // exact duplicate rows are kept as they are
    await expectSameRows('keyless', `${DATASET}.keyless`, [
      { name: 'a', pg: 'a::text', duck: 'a::VARCHAR' },
      { name: 'b', pg: 'b', duck: 'b' },
    ]);
    // the partitioned table arrives as one table, through its parent
    await expectSameRows('measurements', `${DATASET}.measurements`, [
      { name: 'id', pg: 'id::text', duck: 'id::VARCHAR' },
      { name: 'taken_on', pg: 'taken_on::text', duck: 'taken_on::VARCHAR' },
      { name: 'value', pg: 'value::text', duck: 'value::VARCHAR' },
    ]);
    expect((await duckQuery(duckdbPath, `SELECT count(*) AS n FROM ${DATASET}.measurements`))[0]!.n).toBe(300n);
  });

  it('every PostgreSQL type keeps its value: compared value by value', async () => {
    const types = await duckColumnTypes(duckdbPath, DATASET, 'all_types');
    expect(types).toMatchObject({
      i2: 'SMALLINT', i8: 'BIGINT', n: 'VARCHAR', n2: 'DECIMAL(10,2)', nbig: 'VARCHAR', r: 'FLOAT', d: 'DOUBLE', b: 'BOOLEAN',
      dt: 'DATE', tm: 'TIME', tmtz: 'TIME WITH TIME ZONE', ts: 'TIMESTAMP', tstz: 'TIMESTAMP WITH TIME ZONE', iv: 'INTERVAL', u: 'UUID',
      j: 'JSON', jb: 'JSON', ai: 'INTEGER[]', at: 'VARCHAR[]', a2: 'JSON', by: 'BLOB', money_col: 'DECIMAL(19,2)', pos: 'INTEGER', g: 'INTEGER',
    });
    const T = `${DATASET}.all_types`;
    await expectSameRows('all_types', T, [
      { name: 'id', pg: 'id::text', duck: 'id::VARCHAR' },
      { name: 'i2', pg: 'i2::text', duck: 'i2::VARCHAR' },
      { name: 'i8', pg: 'i8::text', duck: 'i8::VARCHAR' },
      // 39 significant digits fit no DuckDB DECIMAL: the lossless rule keeps PostgreSQL's exact text
      { name: 'n', pg: 'n::text', duck: 'n' },
      { name: 'n2', pg: 'n2::text', duck: 'n2::VARCHAR' },
      { name: 'nbig', pg: 'nbig::text', duck: 'nbig' },
      { name: 'r', pg: `CASE WHEN r = 'NaN' THEN 'nan' ELSE r::float8::text END`, duck: `CASE WHEN isnan(r) THEN 'nan' ELSE r::DOUBLE::VARCHAR END` },
      { name: 'd', pg: `CASE WHEN d = 'NaN' THEN 'nan' WHEN d = '-Infinity' THEN '-inf' ELSE d::text END`, duck: `CASE WHEN isnan(d) THEN 'nan' WHEN d = '-inf'::DOUBLE THEN '-inf' ELSE d::VARCHAR END` },
      { name: 'b', pg: 'b::text', duck: `CASE WHEN b THEN 'true' WHEN NOT b THEN 'false' END` },
      { name: 't', pg: 't', duck: 't' },
      { name: 'vc', pg: 'vc', duck: 'vc' },
      // char(n) keeps its padding, as PostgreSQL outputs it (a ::text cast would strip it)
      { name: 'ch', pg: `CASE WHEN ch IS NOT NULL THEN format('%s', ch) END`, duck: 'ch' },
      { name: 'dt', pg: 'dt::text', duck: 'dt::VARCHAR' },
      { name: 'tm', pg: 'tm::text', duck: 'tm::VARCHAR' },
      { name: 'ts', pg: 'ts::text', duck: 'ts::VARCHAR' },
      { name: 'tstz', pg: 'tstz::text', duck: 'tstz::VARCHAR' },
      { name: 'iv', pg: `extract(epoch from iv)::text`, duck: `(datepart('month', iv) + datepart('year', iv) * 12)::VARCHAR` },
      { name: 'u', pg: 'u::text', duck: 'u::VARCHAR' },
      { name: 'jb', pg: `jb::text`, duck: `json(jb)::VARCHAR` },
      { name: 'by', pg: `upper(encode("by", 'hex'))`, duck: 'hex("by")' },
      { name: 'ip', pg: 'ip::text', duck: 'ip' },
      { name: 'm', pg: 'm::text', duck: 'm' },
      { name: 'g', pg: 'g::text', duck: 'g::VARCHAR' },
    ].filter((c) => c.name !== 'iv' && c.name !== 'jb'));
    const rows = await duckQuery(duckdbPath, `SELECT id, ai::VARCHAR AS ai, "at", a2::VARCHAR AS a2, iv::VARCHAR AS iv, tmtz::VARCHAR AS tmtz, j::VARCHAR AS j, money_col::VARCHAR AS money_col, bits, pt FROM ${T} ORDER BY id`);
    expect(rows[0]).toMatchObject({ ai: '[1, NULL, -3]', at: ['a,b', '', null, '"q"'], a2: '[[1,2],[3,null]]', iv: '1 year 2 months 3 days 04:05:06.789', tmtz: '12:00:00+05:30', money_col: '12.34', bits: '1010', pt: '(1.5,2)' });
    expect(JSON.parse(String(rows[0]!.j))).toEqual({ k: [1, 'two', null] });
    expect(rows[1]).toMatchObject({ ai: '[]', iv: '-1 day 02:03:00', money_col: '-0.01' });
    const jb = await db.query(`SELECT jb::text AS jb FROM all_types WHERE id = 1`);
    const djb = await duckQuery(duckdbPath, `SELECT jb::VARCHAR AS jb FROM ${T} WHERE id = 1`);
    expect(JSON.parse(String(djb[0]!.jb))).toEqual(JSON.parse(jb[0]!.jb!));
  });

  it('an unknown name, or a merge asked of a keyless table, stops with a clear message and writes nothing', async () => {
    const before = await duckTableDigest(duckdbPath, DATASET, 'keyless', 'a');
    const unknown = await ingest('--tables', 'no_such_table');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Unknown table "no_such_table"');
    const catalog = path.join(dir, 'merge-keyless.yaml');
    writeFileSync(catalog, 'version: 1\ntables:\n  keyless:\n    write_disposition: merge\n    incremental: { cursor_column: a }\n');
    const merge = await ingest('--catalog', catalog);
    expect(merge.code).toBe(2);
    expect(merge.stderr).toContain('declared merge but has no primary key');
    expect(await duckTableDigest(duckdbPath, DATASET, 'keyless', 'a')).toBe(before);
  });
});

describe('schema evolution between runs', () => {
  const catalog = () => {
    const file = path.join(dir, 'evolve.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'tables:',
        '  evo_full: { primary_key: [id] }',
        '  evo_merge:',
        '    primary_key: [id]',
        '    write_disposition: merge',
        '    incremental: { cursor_column: updated_at }',
        '  evo_frozen: { primary_key: [id], schema_contract: freeze }',
      ].join('\n'),
    );
    return file;
  };
  const run = (...args: string[]) => ingest('--catalog', catalog(), ...args);

  it('follows an added column, smallint → integer, a dropped column and new rows, on full and merge tables', async () => {
    for (const t of ['evo_full', 'evo_merge']) {
      await db.query(`CREATE TABLE ${t} (id int PRIMARY KEY, small smallint, gone text, updated_at timestamptz NOT NULL DEFAULT now())`);
      await db.query(`INSERT INTO ${t} (id, small, gone) SELECT i, i, 'g' || i FROM generate_series(1, 50) i`);
    }
    await db.query(`CREATE TABLE evo_frozen (id int PRIMARY KEY, v text)`);
    await db.query(`INSERT INTO evo_frozen VALUES (1, 'a')`);
    const first = await run();
    expect(first.code, first.stderr).toBe(0);

    for (const t of ['evo_full', 'evo_merge']) {
      await db.query(`ALTER TABLE ${t} ADD COLUMN extra numeric(8,3)`);
      await db.query(`ALTER TABLE ${t} ALTER COLUMN small TYPE integer`);
      await db.query(`ALTER TABLE ${t} DROP COLUMN gone`);
      await db.query(`INSERT INTO ${t} (id, small, extra) SELECT i, 100000 + i, i / 8.0 FROM generate_series(51, 60) i`);
      await db.query(`UPDATE ${t} SET small = 70000, extra = 1.5, updated_at = now() WHERE id = 3`);
    }
    const second = await run();
    expect(second.code, second.stderr + second.stdout).toBe(0);
    expect(second.stdout).toContain('column extra (DECIMAL(8,3)) is new in the source');
    expect(second.stdout).toContain('column small widens from SMALLINT to INTEGER');
    expect(second.stdout).toContain('column gone (VARCHAR) no longer exists in the source; kept');

    for (const t of ['evo_full', 'evo_merge']) {
      const types = await duckColumnTypes(duckdbPath, DATASET, t);
      expect(types, t).toMatchObject({ id: 'INTEGER', small: 'INTEGER', gone: 'VARCHAR', extra: 'DECIMAL(8,3)' });
      await expectSameRows(t, `${DATASET}.${t}`, [
        { name: 'id', pg: 'id::text', duck: 'id::VARCHAR' },
        { name: 'small', pg: 'small::text', duck: 'small::VARCHAR' },
        { name: 'extra', pg: 'extra::text', duck: 'extra::VARCHAR' },
        { name: 'updated_at', pg: 'updated_at::text', duck: 'updated_at::VARCHAR' },
      ]);
      // the dropped column is kept, and new rows have NULL in it
      const gone = await duckQuery(duckdbPath, `SELECT count(*) FILTER (WHERE gone IS NULL) AS nulls FROM ${duckTable(duckdbPath, DATASET, t)} WHERE id > 50`);
      expect(Number(gone[0]!.nulls)).toBe(10);
    }
  });

  it('an incompatible change on a merge table asks for --full-refresh and writes nothing; the full refresh follows it', async () => {
    const before = await duckTableDigest(duckdbPath, DATASET, 'evo_merge', 'id');
    await db.query(`ALTER TABLE evo_merge ALTER COLUMN extra TYPE text USING extra::text`);
    await db.query(`ALTER TABLE evo_merge ALTER COLUMN small TYPE smallint USING (small % 1000)::smallint`);
    const r = await run();
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('--full-refresh evo_merge');
    expect(await duckTableDigest(duckdbPath, DATASET, 'evo_merge', 'id')).toBe(before);

    const refreshed = await run('--full-refresh', 'evo_merge');
    expect(refreshed.code, refreshed.stderr).toBe(0);
    const types = await duckColumnTypes(duckdbPath, DATASET, 'evo_merge');
    expect(types).toEqual({ id: 'INTEGER', small: 'SMALLINT', updated_at: 'TIMESTAMP WITH TIME ZONE', extra: 'VARCHAR' });
  });

  it('schema_contract freeze fails on any change before anything is written', async () => {
    const before = await duckTableDigest(duckdbPath, DATASET, 'evo_frozen', 'id');
    await db.query(`ALTER TABLE evo_frozen ADD COLUMN w int`);
    await db.query(`INSERT INTO evo_frozen VALUES (2, 'b', 2)`);
    const r = await run();
    expect(r.code).toBe(4);
    expect(r.stderr).toContain('schema_contract freeze');
    expect(r.stderr).toContain('column w');
    expect(await duckTableDigest(duckdbPath, DATASET, 'evo_frozen', 'id')).toBe(before);
    expect(await duckTableDigest(duckdbPath, DATASET, 'evo_full', 'id')).toBeTruthy();
  });
});

describe('nested data and the schema export', () => {
  it('unnests a JSON array and a list column into child tables kept in step on merge, exports and versions the schema', async () => {
    await db.query(`CREATE TABLE docs (id int PRIMARY KEY, tags text[], payload jsonb, updated_at timestamptz NOT NULL DEFAULT now())`);
    await db.query(`INSERT INTO docs VALUES (1, '{a,b,NULL}', '[{"k": 1}, 2, "three"]'), (2, '{}', '{"not": "an array"}'), (3, NULL, '[]')`);
    const exportDir = path.join(dir, 'export');
    const catalog = path.join(dir, 'nested.yaml');
    writeFileSync(
      catalog,
      'version: 1\ntables:\n  docs:\n    primary_key: [id]\n    write_disposition: merge\n    incremental: { cursor_column: updated_at }\n    unnest: [tags, payload]\n',
    );
    const run = () => ingest('--catalog', catalog, '--schema-export', exportDir);
    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    const tags = await duckQuery(duckdbPath, `SELECT id, _position, value FROM ${DATASET}.docs__tags ORDER BY id, _position`);
    expect(tags.map((r) => [r.id, Number(r._position), r.value])).toEqual([[1, 0, 'a'], [1, 1, 'b'], [1, 2, null]]);
    const payload = await duckQuery(duckdbPath, `SELECT id, _position, value::VARCHAR AS value FROM ${DATASET}.docs__payload ORDER BY id, _position`);
    expect(payload.map((r) => [r.id, Number(r._position), JSON.parse(String(r.value))])).toEqual([[1, 0, { k: 1 }], [1, 1, 2], [1, 2, 'three']]);

    // a merged row replaces its elements; other rows keep theirs
    await db.query(`UPDATE docs SET tags = '{z}', payload = '[10]', updated_at = now() WHERE id = 1`);
    await db.query(`INSERT INTO docs VALUES (4, '{x,y}', '[true]')`);
    const second = await run();
    expect(second.code, second.stderr).toBe(0);
    const tags2 = await duckQuery(duckdbPath, `SELECT id, _position, value FROM ${DATASET}.docs__tags ORDER BY id, _position`);
    expect(tags2.map((r) => [r.id, Number(r._position), r.value])).toEqual([[1, 0, 'z'], [4, 0, 'x'], [4, 1, 'y']]);
    const payload2 = await duckQuery(duckdbPath, `SELECT id, value::VARCHAR AS value FROM ${DATASET}.docs__payload ORDER BY id, _position`);
    expect(payload2.map((r) => [r.id, String(r.value)])).toEqual([[1, '10'], [4, 'true']]);

    const { readFileSync } = await import('node:fs');
    const { parse } = await import('yaml');
    const exported = parse(readFileSync(path.join(exportDir, `${DATASET}.schema.yaml`), 'utf8'));
    expect(exported.dataset).toBe(DATASET);
    expect(exported.version_hash).toMatch(/^[0-9a-f]{16}$/);
    expect(exported.tables.docs).toMatchObject({ source: 'public.docs', write_disposition: 'merge', primary_key: ['id'] });
    expect(exported.tables.docs.columns).toContainEqual({ name: 'tags', type: 'VARCHAR[]', source_name: 'tags', source_type: 'text[]' });
    expect(exported.tables.docs__tags.unnested_from).toEqual({ table: 'docs', column: 'tags' });
    // the name mapping is part of the schema
    expect(exported.tables['Order Lines'].columns).toContainEqual({ name: 'name__2', type: 'VARCHAR', source_name: 'name', source_type: 'text' });

    // a schema change makes a new version; an unchanged schema does not
    const versions = async () => Number((await duckQuery(duckdbPath, `SELECT count(*) AS n FROM ${DATASET}._ingesta_schema WHERE table_name = 'docs'`))[0]!.n);
    expect(await versions()).toBe(1);
    await db.query(`ALTER TABLE docs ADD COLUMN note text`);
    expect((await run()).code).toBe(0);
    expect(await versions()).toBe(2);
    expect((await run()).code).toBe(0);
    expect(await versions()).toBe(2);
  });
});
