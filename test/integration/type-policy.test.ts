import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckColumnTypes, duckQuery, duckTable, duckTableDigest } from '../helpers/duckdb.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * The numeric and temporal policy of the DuckDB destination, value by value, on real PostgreSQL through the CLI:
 * a column's type is fixed by its first load; a value no type of it can hold turns the column into exact text (with a
 * warning) where the column can change, else the run stops before anything is written. Values never appear in errors.
 */

let db: TestDatabase;
let dir: string;
const DATASET = 'p';

/** A DuckDB file and catalog of its own per scenario. */
function target(name: string, catalogYaml?: string) {
  const file = path.join(dir, `${name}.duckdb`);
  const catalog = catalogYaml === undefined ? [] : ['--catalog', path.join(dir, `${name}.yaml`)];
  if (catalogYaml !== undefined) writeFileSync(path.join(dir, `${name}.yaml`), catalogYaml);
  const run = (...args: string[]) => runCli(['--env', 'local', '--duckdb-path', file, '--dataset', DATASET, ...catalog, ...args], { DATABASE_URL: db.url });
  const rows = (sql: string) => duckQuery(file, sql);
  const types = (table: string) => duckColumnTypes(file, DATASET, table);
  const ref = (table: string) => duckTable(file, DATASET, table);
  return { file, run, rows, types, ref };
}

const mergeCatalog = (table: string, extra = '') =>
  `version: 1\ntables:\n  ${table}:\n    primary_key: [id]\n    write_disposition: merge\n    incremental:\n      cursor_column: updated_at\n${extra}`;

/** PostgreSQL's text of one column, by id. */
async function sourceText(table: string, column: string): Promise<Record<string, string | null>> {
  const rows = await db.query<{ id: string; v: string | null }>(`SELECT id::text AS id, ${column}::text AS v FROM ${table} ORDER BY id`);
  return Object.fromEntries(rows.map((r) => [r.id, r.v]));
}

/** The destination's text of one column, by id. */
async function destText(t: ReturnType<typeof target>, table: string, column: string): Promise<Record<string, string | null>> {
  const rows = await t.rows(`SELECT id::VARCHAR AS id, CAST("${column}" AS VARCHAR) AS v FROM ${t.ref(table)} ORDER BY id`);
  return Object.fromEntries(rows.map((r) => [String(r.id), r.v === null ? null : String(r.v)]));
}

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-policy-'));
});

afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('bytea', () => {
  it('bytea of 0, 1, 57 bytes and 1 MB loads byte for byte (regression: base64 wrapped every 76 characters, so any value of 57 bytes or more failed the run)', async () => {
    await db.query(`CREATE TABLE blobs (id integer PRIMARY KEY, b bytea)`);
    await db.query(`INSERT INTO blobs VALUES (1, ''), (2, '\\x00'), (3, decode(repeat('c3', 57), 'hex')), (5, NULL)`);
    await db.query(`INSERT INTO blobs SELECT 4, decode(string_agg(lpad(to_hex(i % 256), 2, '0'), '' ORDER BY i), 'hex') FROM generate_series(0, 1048575) i`);
    const t = target('blobs');
    const r = await t.run('--tables', 'blobs');
    expect(r.code, r.stderr).toBe(0);
    expect((await t.types('blobs')).b).toBe('BLOB');
    const dest = await t.rows(`SELECT id, octet_length(b) AS n, md5(b) AS h FROM ${t.ref('blobs')} ORDER BY id`);
    const src = await db.query(`SELECT id, octet_length(b) AS n, md5(b) AS h FROM blobs ORDER BY id`);
    expect(dest.map((x) => [String(x.id), x.n === null ? null : String(x.n), x.h])).toEqual(src.map((x) => [x.id, x.n, x.h]));
    expect(dest.map((x) => (x.n === null ? null : Number(x.n)))).toEqual([0, 1, 57, 1048576, null]);
  });
});

describe('values never appear in errors', () => {
  it('a value DuckDB refuses stops the run naming table and column, never the value (regression: the value was printed on stderr and stored in _ingesta_runs.message)', async () => {
    await db.query(`CREATE TABLE day_lists (id integer PRIMARY KEY, ds date[], note text)`);
    await db.query(`INSERT INTO day_lists VALUES (1, '{2001-02-03}', 'fine')`);
    const t = target('day_lists');
    const ok = await t.run('--tables', 'day_lists');
    expect(ok.code, ok.stderr).toBe(0);
    await db.query(`INSERT INTO day_lists VALUES (2, '{1999-12-31,"0044-03-15 BC"}', 'secret-note-value')`);
    const bad = await t.run('--tables', 'day_lists');
    expect(bad.code).toBe(4);
    expect(bad.stderr).toMatch(/day_lists/);
    expect(bad.stderr).toMatch(/column ds/);
    for (const value of ['1999-12-31', '0044', 'secret-note-value']) expect(bad.stderr + bad.stdout).not.toContain(value);
    const [run] = await t.rows(`SELECT message FROM ${t.ref('_ingesta_runs')} WHERE status = 'failed'`);
    expect(String(run!.message)).toMatch(/column ds/);
    for (const value of ['1999-12-31', '0044', 'secret-note-value']) expect(String(run!.message)).not.toContain(value);
  });
});

describe('numeric', () => {
  it('NaN in a numeric(p,s) column keeps the exact text with a warning (regression: NaN in numeric(p,s) failed every run)', async () => {
    await db.query(`CREATE TABLE prices (id integer PRIMARY KEY, p numeric(12,4), updated_at timestamptz NOT NULL DEFAULT now())`);
    await db.query(`INSERT INTO prices (id, p) VALUES (1, 1.5), (2, 'NaN'), (3, NULL), (4, -0.0001)`);
    const full = target('prices_full');
    const r = await full.run('--tables', 'prices');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/prices\.p .*VARCHAR/);
    expect((await full.types('prices')).p).toBe('VARCHAR');
    expect(await destText(full, 'prices', 'p')).toEqual(await sourceText('prices', 'p'));

    // a merge table loaded as DECIMAL(12,4) first: the column changes to exact text in place when NaN comes later
    await db.query(`CREATE TABLE prices_m (id integer PRIMARY KEY, p numeric(12,4), updated_at timestamptz NOT NULL DEFAULT now())`);
    await db.query(`INSERT INTO prices_m (id, p) VALUES (1, 1.5), (3, NULL), (4, -0.0001)`);
    const merge = target('prices_m', mergeCatalog('prices_m'));
    const first = await merge.run();
    expect(first.code, first.stderr).toBe(0);
    expect((await merge.types('prices_m')).p).toBe('DECIMAL(12,4)');
    await db.query(`INSERT INTO prices_m (id, p) VALUES (2, 'NaN')`);
    const second = await merge.run();
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/prices_m\.p .*VARCHAR/);
    expect((await merge.types('prices_m')).p).toBe('VARCHAR');
    expect(await destText(merge, 'prices_m', 'p')).toEqual(await sourceText('prices_m', 'p'));
  });

  it('unconstrained numerics whose integer and fractional digits together exceed 38 in different rows keep every digit (regression: DECIMAL(38,18) rounded 3.14159265358979323846)', async () => {
    await db.query(`CREATE TABLE wide (id integer PRIMARY KEY, n numeric)`);
    await db.query(`INSERT INTO wide VALUES (1, 3.14159265358979323846), (2, 12345678901234567890), (3, NULL), (4, -0.5)`);
    const t = target('wide');
    const r = await t.run('--tables', 'wide');
    expect(r.code, r.stderr).toBe(0);
    expect((await t.types('wide')).n).toBe('VARCHAR');
    expect(r.stdout).toMatch(/wide\.n .*VARCHAR/);
    expect(r.stdout).not.toContain('3.14159');
    expect(await destText(t, 'wide', 'n')).toEqual({ '1': '3.14159265358979323846', '2': '12345678901234567890', '3': null, '4': '-0.5' });
  });

  it('a merge run bringing integer digits that no longer fit beside the stored fraction digits changes the column to exact text in place', async () => {
    await db.query(`CREATE TABLE wide_m (id integer PRIMARY KEY, n numeric, updated_at timestamptz NOT NULL DEFAULT now())`);
    await db.query(`INSERT INTO wide_m (id, n) VALUES (1, 3.14159265358979323846), (3, 7)`);
    const t = target('wide_m', mergeCatalog('wide_m'));
    const first = await t.run();
    expect(first.code, first.stderr).toBe(0);
    expect((await t.types('wide_m')).n).toBe('DECIMAL(38,20)');
    await db.query(`INSERT INTO wide_m (id, n) VALUES (2, 12345678901234567890)`);
    const second = await t.run();
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/wide_m\.n .*VARCHAR/);
    expect((await t.types('wide_m')).n).toBe('VARCHAR');
    const dest = await destText(t, 'wide_m', 'n');
    // every stored value keeps its exact number (older rows are written at the column's former scale)
    expect(dest['2']).toBe('12345678901234567890');
    expect(dest['1']).toBe('3.14159265358979323846');
    expect(Number(dest['3'])).toBe(7);
  });

  it('an unconstrained numeric on a merge table takes a narrower scale when new values need more integer digits (regression: failed every run until --full-refresh)', async () => {
    await db.query(`CREATE TABLE narrow_m (id integer PRIMARY KEY, n numeric, updated_at timestamptz NOT NULL DEFAULT now())`);
    await db.query(`INSERT INTO narrow_m (id, n) VALUES (1, 2.5), (2, -0.125)`);
    const t = target('narrow_m', mergeCatalog('narrow_m'));
    const first = await t.run();
    expect(first.code, first.stderr).toBe(0);
    expect((await t.types('narrow_m')).n).toBe('DECIMAL(38,9)');
    // 31 integer digits do not fit DECIMAL(38,9); every stored and new value fits DECIMAL(38,7)
    await db.query(`INSERT INTO narrow_m (id, n) VALUES (3, 1234567890123456789012345678901), (4, 0.5)`);
    const second = await t.run();
    expect(second.code, second.stderr).toBe(0);
    expect((await t.types('narrow_m')).n).toBe('DECIMAL(38,7)');
    const dest = await t.rows(`SELECT id, n::VARCHAR AS n FROM ${t.ref('narrow_m')} ORDER BY id`);
    expect(dest.map((x) => String(x.n).replace(/\.?0+$/, ''))).toEqual(['2.5', '-0.125', '1234567890123456789012345678901', '0.5']);
  });

  it('a column that cannot change stops the run before anything is written, naming table, column and key but never the value', async () => {
    await db.query(`CREATE TABLE frozen_m (id integer PRIMARY KEY, n numeric, updated_at timestamptz NOT NULL DEFAULT now())`);
    await db.query(`INSERT INTO frozen_m (id, n) VALUES (1, 1.5)`);
    const t = target('frozen_m', mergeCatalog('frozen_m', '    schema_contract: freeze\n'));
    const first = await t.run();
    expect(first.code, first.stderr).toBe(0);
    const before = await duckTableDigest(t.file, DATASET, 'frozen_m', 'id');
    await db.query(`INSERT INTO frozen_m (id, n) VALUES (77, 'NaN'), (78, 2.5)`);
    const bad = await t.run();
    expect(bad.code).toBe(4);
    expect(bad.stderr).toMatch(/frozen_m/);
    expect(bad.stderr).toMatch(/column n\b/);
    expect(bad.stderr).toMatch(/\(id\) = \(77\)/);
    expect(bad.stderr).not.toMatch(/NaN/);
    expect(bad.stderr).toMatch(/nothing was written/i);
    expect(await duckTableDigest(t.file, DATASET, 'frozen_m', 'id')).toBe(before);
    expect((await t.types('frozen_m')).n).toBe('DECIMAL(38,9)');

    // a key column cannot change its type in place either: --full-refresh rebuilds it
    await db.query(`CREATE TABLE keyed_m (id numeric PRIMARY KEY, updated_at timestamptz NOT NULL DEFAULT now())`);
    await db.query(`INSERT INTO keyed_m (id) VALUES (1.5)`);
    const k = target('keyed_m', mergeCatalog('keyed_m'));
    expect((await k.run()).code).toBe(0);
    await db.query(`INSERT INTO keyed_m (id) VALUES (123456789012345678901234567890123456789)`);
    const refused = await k.run();
    expect(refused.code).toBe(4);
    expect(refused.stderr).toMatch(/keyed_m.*column id/);
    expect(refused.stderr).toMatch(/--full-refresh keyed_m/);
    expect(refused.stderr).not.toContain('123456789012345678901234567890123456789');
    const rebuilt = await k.run('--full-refresh', 'keyed_m');
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(await destText(k, 'keyed_m', 'id')).toEqual(await sourceText('keyed_m', 'id'));
  });
});

describe('timestamps', () => {
  it('a BC date in a frozen table stops the run before anything is written, naming the row\'s key, never the value', async () => {
    await db.query(`CREATE TABLE frozen_d (id integer PRIMARY KEY, d date, updated_at timestamptz NOT NULL DEFAULT now())`);
    await db.query(`INSERT INTO frozen_d (id, d) VALUES (1, '2024-02-29')`);
    const t = target('frozen_d', mergeCatalog('frozen_d', '    schema_contract: freeze\n'));
    const first = await t.run();
    expect(first.code, first.stderr).toBe(0);
    const before = await duckTableDigest(t.file, DATASET, 'frozen_d', 'id');
    await db.query(`INSERT INTO frozen_d (id, d) VALUES (5, '0044-03-15 BC')`);
    const bad = await t.run();
    expect(bad.code).toBe(4);
    expect(bad.stderr).toMatch(/Table frozen_d, column d: the row with key \(id\) = \(5\)/);
    expect(bad.stderr).toMatch(/schema_contract/);
    expect(bad.stderr).not.toContain('0044');
    expect(await duckTableDigest(t.file, DATASET, 'frozen_d', 'id')).toBe(before);
  });


  it('a timestamp beyond DuckDB\'s range (year 294276) keeps its exact text with a warning (regression: the run failed with no fallback)', async () => {
    await db.query(`CREATE TABLE far (id integer PRIMARY KEY, ts timestamp, tz timestamptz, d date)`);
    await db.query(`INSERT INTO far VALUES (1, '294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999+00', '5874897-12-31'),
      (2, '2024-06-01 12:00:00.5', '2024-06-01 12:00:00.5+02', '2024-02-29'), (3, 'infinity', '-infinity', '-infinity'), (4, NULL, NULL, NULL)`);
    const t = target('far');
    const r = await t.run('--tables', 'far');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/far\.ts .*VARCHAR/);
    expect(r.stdout).not.toContain('294276');
    // PostgreSQL's last date (5874897) fits DuckDB's DATE: that column stays DATE
    expect(await t.types('far')).toMatchObject({ ts: 'VARCHAR', tz: 'VARCHAR', d: 'DATE' });
    expect(await destText(t, 'far', 'd')).toEqual(await sourceText('far', 'd'));
    expect(await destText(t, 'far', 'ts')).toEqual(await sourceText('far', 'ts'));
    expect(await destText(t, 'far', 'tz')).toEqual(await sourceText('far', 'tz'));
  });

  it('a BC timestamptz keeps its exact text (regression: DuckDB\'s CSV reader loaded it as NULL without an error)', async () => {
    await db.query(`CREATE TABLE bc_tz (id integer PRIMARY KEY, tz timestamptz)`);
    await db.query(`INSERT INTO bc_tz VALUES (1, '0044-03-15 12:00:00+00 BC'), (2, '2024-06-01 12:00:00.5+02')`);
    const t = target('bc_tz');
    const r = await t.run('--tables', 'bc_tz');
    expect(r.code, r.stderr).toBe(0);
    expect((await t.types('bc_tz')).tz).toBe('VARCHAR');
    expect(await destText(t, 'bc_tz', 'tz')).toEqual(await sourceText('bc_tz', 'tz'));
  });

  it('dates and timestamps at both ends of PostgreSQL\'s range, and ±infinity, load exactly (full load, then a merge that brings them later)', async () => {
    const values = `(1, '4713-01-01 BC', '4713-01-01 00:00:00 BC', '4713-01-01 00:00:00+00 BC'),
      (2, '5874897-12-31', '294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999+00'),
      (3, 'infinity', 'infinity', 'infinity'), (4, '-infinity', '-infinity', '-infinity')`;
    await db.query(`CREATE TABLE ends (id integer PRIMARY KEY, d date, ts timestamp, tz timestamptz, updated_at timestamptz NOT NULL DEFAULT now())`);
    await db.query(`INSERT INTO ends (id, d, ts, tz) VALUES ${values}`);
    const full = target('ends');
    const r = await full.run('--tables', 'ends');
    expect(r.code, r.stderr).toBe(0);
    for (const c of ['d', 'ts', 'tz']) expect(await destText(full, 'ends', c), c).toEqual(await sourceText('ends', c));

    await db.query(`CREATE TABLE ends_m (id integer PRIMARY KEY, d date, ts timestamp, tz timestamptz, updated_at timestamptz NOT NULL DEFAULT now())`);
    await db.query(`INSERT INTO ends_m (id, d, ts, tz) VALUES (5, '2024-02-29', '2024-06-01 12:00:00.123456', '2024-06-01 12:00:00.654321+02')`);
    const merge = target('ends_m', mergeCatalog('ends_m'));
    const first = await merge.run();
    expect(first.code, first.stderr).toBe(0);
    expect(await merge.types('ends_m')).toMatchObject({ d: 'DATE', ts: 'TIMESTAMP', tz: 'TIMESTAMP WITH TIME ZONE' });
    await db.query(`INSERT INTO ends_m (id, d, ts, tz) VALUES ${values}`);
    const second = await merge.run();
    expect(second.code, second.stderr).toBe(0);
    expect(await merge.types('ends_m')).toMatchObject({ d: 'VARCHAR', ts: 'VARCHAR', tz: 'VARCHAR' });
    for (const c of ['d', 'ts', 'tz']) expect(await destText(merge, 'ends_m', c), c).toEqual(await sourceText('ends_m', c));
  });
});

describe('views', () => {
  it('a view and a materialized view load with --tables', async () => {
    await db.query(`CREATE TABLE base (id integer PRIMARY KEY, label text, amount numeric(8,2))`);
    await db.query(`INSERT INTO base SELECT i, 'row ' || i, i * 1.25 FROM generate_series(1, 50) i`);
    await db.query(`CREATE VIEW base_view AS SELECT id, upper(label) AS label, amount FROM base WHERE id % 2 = 0`);
    await db.query(`CREATE MATERIALIZED VIEW base_mv AS SELECT id % 5 AS id, sum(amount) AS total, count(*) AS n FROM base GROUP BY 1`);
    const t = target('views');
    const r = await t.run('--tables', 'base_view,base_mv');
    expect(r.code, r.stderr).toBe(0);
    const view = await t.rows(`SELECT id, label, amount::VARCHAR AS amount FROM ${t.ref('base_view')} ORDER BY id`);
    const srcView = await db.query(`SELECT id, label, amount::text AS amount FROM base_view ORDER BY id`);
    expect(view.map((x) => [String(x.id), x.label, x.amount])).toEqual(srcView.map((x) => [x.id, x.label, x.amount]));
    const mv = await t.rows(`SELECT id, total::VARCHAR AS total, n FROM ${t.ref('base_mv')} ORDER BY id`);
    const srcMv = await db.query(`SELECT id, total::text AS total, n FROM base_mv ORDER BY id`);
    expect(mv.map((x) => [String(x.id), String(x.total).replace(/\.?0+$/, ''), String(x.n)])).toEqual(srcMv.map((x) => [x.id, String(x.total).replace(/\.?0+$/, ''), x.n]));
  });
});
