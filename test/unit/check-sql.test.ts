import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CreateDatabaseCommand, CreateTableCommand, GlueClient } from '@aws-sdk/client-glue';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Catalog, CatalogTable } from '../../src/catalog/catalog.js';
import { athenaColumnType } from '../../src/destination/athena/athena-type-map.js';
import { defineChecks } from '../../src/quality/check-definitions.js';
import { checkSql, countOnlySql, EXAMPLES } from '../../src/quality/check-sql.js';
import type { CheckSpec } from '../../src/quality/check-types.js';
import { athenaDialect } from '../../src/destination/athena/athena-quality-dialect.js';
import { duckdbDialect, type QualityDialect } from '../../src/quality/quality-dialect.js';
import type { SourceTable } from '../../src/source/postgres/postgres-introspector.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';

/**
 * Every check of the quality gate, rendered once per dialect and EXECUTED: on an in-memory DuckDB (the local
 * destination) and on the executing Athena stand-in (Trino grammar, type checks, Parquet tables in s3rver), over the
 * same small tables with planted defects. Both dialects must find the same rows.
 */

interface TableDef {
  readonly name: string;
  /** name → destination (DuckDB) type, as ingesta declares it. */
  readonly columns: [string, string][];
  readonly rows: string[];
}

const TABLES: TableDef[] = [
  {
    name: 'customers',
    columns: [['id', 'INTEGER'], ['email', 'VARCHAR'], ['status', 'VARCHAR'], ['score', 'DECIMAL(10,2)'], ['born', 'DATE'], ['signup', 'TIMESTAMPTZ'], ['vip', 'BOOLEAN']],
    rows: [
      `(1, 'a@x', 'active', 10.00, '1990-01-01', '2024-01-01 10:00:00+00', true)`,
      `(2, 'b@x', 'active', 5.50, '1991-01-01', '2024-01-02 10:00:00+00', false)`,
      `(2, 'b2@x', 'inactive', 7.25, '1992-01-01', '2024-01-03 10:00:00+00', false)`, // duplicate key 2 (2 rows)
      `(3, NULL, 'banned', -1.00, '1899-12-31', '2031-05-06 07:08:09+00', NULL)`, // NULL email, unknown status, score and born below min, signup above max
      `(3, NULL, NULL, 0.00, '1900-01-01', '2024-01-04 10:00:00+00', true)`, // duplicate key 3 (3 rows); NULL status is not a bad value
      `(3, 'c@x', 'inactive', 100.00, NULL, NULL, NULL)`,
      `(4, 'a@x', 'gone', 1000.50, '2000-01-01', '2024-01-05 10:00:00+00', false)`, // email a@x twice (unique), status 'gone', score above max
      `(NULL, 'n@x', 'active', 1.00, '2000-01-01', '2024-01-06 10:00:00+00', true)`, // NULL key
    ],
  },
  {
    // composite key (order_id, line_no): (1,2) ×2 and (2,1) ×3 duplicated; rows with a NULL part are NULL keys, not duplicates
    name: 'lines',
    columns: [['order_id', 'INTEGER'], ['line_no', 'INTEGER'], ['qty', 'BIGINT']],
    rows: ['(1, 1, 1)', '(1, 2, 2)', '(1, 2, 3)', '(2, 1, 1)', '(2, 1, 1)', '(2, 1, 7)', '(NULL, 1, 1)', '(NULL, 1, 1)', '(3, NULL, 2)', '(1, NULL, 2)'],
  },
  {
    // customer_id → customers.id: 99 twice and 98 are orphans; NULL is no orphan
    name: 'orders',
    columns: [['id', 'INTEGER'], ['customer_id', 'INTEGER']],
    rows: ['(10, 1)', '(11, 2)', '(12, 99)', '(13, 99)', '(14, 98)', '(15, NULL)', '(16, 4)'],
  },
  {
    // (order_id, line_no) → lines: (5,5) and (1,9) are orphans; a FK with a NULL part is not checked (MATCH SIMPLE)
    name: 'shipments',
    columns: [['id', 'INTEGER'], ['order_id', 'INTEGER'], ['line_no', 'INTEGER']],
    rows: ['(1, 1, 1)', '(2, 1, 2)', '(3, 5, 5)', '(4, 1, 9)', '(5, NULL, 1)', '(6, 1, NULL)', '(7, 5, 5)'],
  },
  {
    name: 'fresh',
    columns: [['id', 'INTEGER'], ['at_tz', 'TIMESTAMPTZ'], ['at_naive', 'TIMESTAMP'], ['day', 'DATE']],
    rows: [
      `(1, '2024-07-01 12:00:00+00', '2024-07-01 12:00:00', '2024-07-01')`,
      `(2, '2024-06-01 23:00:00+00', '2024-06-01 23:00:00', '2024-06-01')`,
      '(3, NULL, NULL, NULL)',
    ],
  },
  { name: 'empty', columns: [['id', 'INTEGER'], ['at', 'TIMESTAMPTZ']], rows: [] },
  // codes kept as text: a catalog's numbers (YAML 1, 2, 5) compare as text, so '01' is not 1
  { name: 'codes', columns: [['code', 'VARCHAR']], rows: [`('1')`, `('2')`, `('x')`, `('01')`] },
];

const DB = 'checks_db';
let duck: DuckDBInstance;
let conn: DuckDBConnection;
let dir: string;
let lake: Lakehouse;
let glue: GlueClient;

const duckDialect = duckdbDialect((name) => `"ds"."${name}"`);
const trinoDialect = athenaDialect((name) => `"${DB}"."${name.toLowerCase()}"`);
const typeOf = (table: string, column: string) => TABLES.find((t) => t.name === table)!.columns.find(([c]) => c === column)![1];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-checks-'));
  duck = await DuckDBInstance.create(':memory:');
  conn = await duck.connect();
  await conn.run("SET TimeZone = 'UTC'");
  await conn.run('CREATE SCHEMA ds');
  lake = await startLakehouse(dir);
  glue = new GlueClient({ region: 'us-east-1', endpoint: lake.aws.url, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  await glue.send(new CreateDatabaseCommand({ DatabaseInput: { Name: DB } }));
  for (const t of TABLES) {
    await conn.run(`CREATE TABLE ds.${t.name} (${t.columns.map(([c, type]) => `"${c}" ${type}`).join(', ')})`);
    if (t.rows.length > 0) await conn.run(`INSERT INTO ds.${t.name} VALUES ${t.rows.join(', ')}`);
    // the Athena side: the Parquet file and Glue columns the dev/prod destination writes for these types
    const mapped = t.columns.map(([c, type]) => athenaColumnType(c, type));
    const file = path.join(dir, `${t.name}.parquet`);
    await conn.run(`COPY (SELECT ${mapped.map((m, i) => `${m.parquetSql} AS "${t.columns[i]![0]}"`).join(', ')} FROM ds.${t.name}) TO '${file}' (FORMAT parquet)`);
    if (t.rows.length > 0) await lake.s3.send(new PutObjectCommand({ Bucket: 'lake', Key: `raw/${t.name}/run1/part-0.parquet`, Body: readFileSync(file) }));
    await glue.send(
      new CreateTableCommand({
        DatabaseName: DB,
        TableInput: {
          Name: t.name, TableType: 'EXTERNAL_TABLE', Parameters: { classification: 'parquet' },
          StorageDescriptor: {
            Columns: t.columns.map(([c], i) => ({ Name: c, Type: mapped[i]!.athenaType })),
            Location: `s3://lake/raw/${t.name}/run1/`,
            SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
          },
        },
      }),
    );
  }
}, 60_000);

afterAll(async () => {
  conn?.closeSync();
  duck?.closeSync();
  glue?.destroy();
  await lake?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Row = Record<string, string | null>;
const text = (v: unknown) => (v === null || v === undefined ? null : String(v));

/** Runs a check's query on both destinations; values as text, examples as a sorted list. */
async function runBoth(sql: (d: QualityDialect) => string): Promise<{ duckdb: Row; athena: Row }> {
  const [duckRow] = (await conn.runAndReadAll(sql(duckDialect))).getRowObjectsJS();
  const [athenaRow] = await lake.aws.athenaQuery(sql(trinoDialect), DB);
  const norm = (row: Record<string, unknown>): Row =>
    Object.fromEntries(Object.entries(row).map(([k, v]) => [k, (k === 'examples' || k === 'missing') && v !== null ? String(v).split('; ').sort().join('; ') : text(v)]));
  return { duckdb: norm(duckRow!), athena: norm(athenaRow!) };
}

/** The check run on both destinations: the same counts and examples found by each. */
async function expectFound(spec: CheckSpec, want: Row) {
  const columnType = 'column' in spec && spec.column !== undefined ? typeOf(spec.table, spec.column) : undefined;
  const kind = spec.kind === 'freshness' && columnType ? duckDialect.timeKind(columnType) : undefined;
  const { duckdb, athena } = await runBoth((d) => checkSql(spec, d, kind, columnType));
  expect(duckdb, 'DuckDB').toEqual(want);
  expect(athena, 'Athena').toEqual(want);
  // the cheap first pass agrees with the full query
  if (countOnlySql(spec, duckDialect) !== undefined) {
    const first = await runBoth((d) => countOnlySql(spec, d)!);
    const counts = Object.fromEntries(Object.keys(first.duckdb).map((k) => [k, want[k]!]));
    expect(first.duckdb, 'DuckDB count-only').toEqual(counts);
    expect(first.athena, 'Athena count-only').toEqual(counts);
  }
}

const severity = 'fail' as const;

describe('row_count', () => {
  it.each([['customers', '8'], ['lines', '10'], ['empty', '0']])('%s has %s rows', async (table, n) => {
    await expectFound({ kind: 'row_count', table, severity }, { n });
  });
});

describe('duplicates and unique', () => {
  it('single key: duplicated keys, the rows they cover, NULL keys, examples', async () => {
    await expectFound({ kind: 'duplicates', table: 'customers', key: ['id'], severity }, { dup_keys: '2', dup_rows: '5', null_keys: '1', examples: '2; 3' });
  });

  it('composite key: a row with any NULL part is a NULL key (never a duplicate, even twice)', async () => {
    await expectFound({ kind: 'duplicates', table: 'lines', key: ['order_id', 'line_no'], severity }, { dup_keys: '2', dup_rows: '5', null_keys: '4', examples: '(1, 2); (2, 1)' });
  });

  it('clean key: nothing found', async () => {
    await expectFound({ kind: 'duplicates', table: 'orders', key: ['id'], severity }, { dup_keys: '0', dup_rows: '0', null_keys: '0', examples: null });
  });

  it('unique column: NULLs are neither duplicates nor counted', async () => {
    await expectFound({ kind: 'unique', table: 'customers', column: 'email', severity }, { dup_keys: '1', dup_rows: '2', null_keys: '0', examples: 'a@x' });
  });

  it(`examples stop at ${EXAMPLES} (the smallest keys)`, async () => {
    await conn.run('CREATE TABLE ds.many AS SELECT CAST(i % 7 AS INTEGER) AS k FROM range(14) t(i)');
    const [row] = (await conn.runAndReadAll(checkSql({ kind: 'duplicates', table: 'many', key: ['k'], severity }, duckDialect))).getRowObjectsJS();
    expect(String(row!.dup_keys)).toBe('7');
    expect(String(row!.examples).split('; ').sort()).toEqual(['0', '1', '2', '3', '4']);
  });
});

describe('referential_integrity', () => {
  const ri = (table: string, columns: string[], references: string, referencedColumns: string[], childKey: string[] = ['id']): CheckSpec => ({
    kind: 'referential_integrity', table, columns, references, referencedColumns, childKey, origin: 'catalog', severity,
  });

  // regression: the examples quoted only the missing parent values (98; 99), not the rows a person must go and fix
  it('single column: every orphan row counted and named by its key with the parent value it misses; NULL is no orphan', async () => {
    await expectFound(ri('orders', ['customer_id'], 'customers', ['id']), {
      orphans: '3', examples: 'id=12 → customer_id=99; id=13 → customer_id=99; id=14 → customer_id=98', missing: '98; 99',
    });
  });

  it('composite: a key with a NULL part is not checked', async () => {
    await expectFound(ri('shipments', ['order_id', 'line_no'], 'lines', ['order_id', 'line_no']), {
      orphans: '3',
      examples: 'id=3 → (order_id=5, line_no=5); id=4 → (order_id=1, line_no=9); id=7 → (order_id=5, line_no=5)',
      missing: '(1, 9); (5, 5)',
    });
  });

  it('a composite child key names the row by every key column (a NULL part spelled NULL); each row quoted once', async () => {
    await expectFound(ri('lines', ['order_id'], 'orders', ['id'], ['order_id', 'line_no']), {
      orphans: '8',
      examples: '(order_id=1, line_no=1) → order_id=1; (order_id=1, line_no=2) → order_id=1; (order_id=1, line_no=NULL) → order_id=1; (order_id=2, line_no=1) → order_id=2; (order_id=3, line_no=NULL) → order_id=3',
      missing: '1; 2; 3',
    });
    await expectFound(ri('shipments', ['order_id'], 'lines', ['order_id']), { orphans: '2', examples: 'id=3 → order_id=5; id=7 → order_id=5', missing: '5' });
  });

  it('a keyless child (a view) quotes the missing parent value alone', async () => {
    await expectFound(ri('orders', ['customer_id'], 'customers', ['id'], []), { orphans: '3', examples: 'customer_id=98; customer_id=99', missing: '98; 99' });
  });

  it('no orphans', async () => {
    await expectFound(ri('orders', ['customer_id'], 'orders', ['customer_id']), { orphans: '0', examples: null, missing: null });
    await expectFound(ri('shipments', ['order_id', 'line_no'], 'shipments', ['order_id', 'line_no']), { orphans: '0', examples: null, missing: null });
  });
});

describe('freshness: the newest value and its age, per kind of time', () => {
  const seconds = (iso: string) => Date.parse(iso) / 1000;
  const cases: [string, string, string, string, string, string][] = [
    // column, zone the naive value was written in, newest value (DuckDB text), (Athena text), the instant it means.
    // The stand-in casts to VARCHAR with DuckDB's text (no .000); real Athena writes timestamp(3) text with millis.
    ['timestamptz (the zone is ignored)', 'at_tz', 'America/New_York', '2024-07-01 12:00:00+00', '2024-07-01 12:00:00', '2024-07-01T12:00:00Z'],
    ['naive timestamp written in UTC', 'at_naive', 'UTC', '2024-07-01 12:00:00', '2024-07-01 12:00:00', '2024-07-01T12:00:00Z'],
    ['naive timestamp written in New York (EDT)', 'at_naive', 'America/New_York', '2024-07-01 12:00:00', '2024-07-01 12:00:00', '2024-07-01T16:00:00Z'],
    ['date in Tokyo (its midnight, UTC+9)', 'day', 'Asia/Tokyo', '2024-07-01', '2024-07-01', '2024-06-30T15:00:00Z'],
  ];
  it.each(cases)('%s', async (_name, column, timezone, duckValue, athenaValue, instant) => {
    const spec: CheckSpec = { kind: 'freshness', table: 'fresh', column, thresholdHours: 24, timezone, severity };
    const kind = duckDialect.timeKind(typeOf('fresh', column))!;
    const { duckdb, athena } = await runBoth((d) => checkSql(spec, d, kind));
    const expected = Date.now() / 1000 - seconds(instant);
    expect(duckdb.max_value).toBe(duckValue);
    expect(athena.max_value).toBe(athenaValue);
    expect(Math.abs(Number(duckdb.age_seconds) - expected), `DuckDB age ${duckdb.age_seconds}, expected ${expected}`).toBeLessThan(120);
    expect(Math.abs(Number(athena.age_seconds) - expected), `Athena age ${athena.age_seconds}, expected ${expected}`).toBeLessThan(120);
  });

  it('an empty table: no newest value, no age', async () => {
    const spec: CheckSpec = { kind: 'freshness', table: 'empty', column: 'at', thresholdHours: 24, timezone: 'UTC', severity };
    const { duckdb, athena } = await runBoth((d) => checkSql(spec, d, 'timestamptz'));
    expect(duckdb).toEqual({ max_value: null, age_seconds: null });
    expect(athena).toEqual({ max_value: null, age_seconds: null });
  });
});

describe('column checks', () => {
  const cases: [string, CheckSpec, Row][] = [
    ['not_null', { kind: 'not_null', table: 'customers', column: 'email', severity }, { bad: '2', examples: null }],
    ['not_null, clean', { kind: 'not_null', table: 'orders', column: 'id', severity }, { bad: '0', examples: null }],
    ['accepted_values (text; NULL is not a bad value)', { kind: 'accepted_values', table: 'customers', column: 'status', values: ['active', 'inactive'], severity }, { bad: '2', examples: 'banned; gone' }],
    ['accepted_values (integers)', { kind: 'accepted_values', table: 'lines', column: 'qty', values: [1, 2, 3], severity }, { bad: '1', examples: '7' }],
    ['accepted_values (a boolean)', { kind: 'accepted_values', table: 'customers', column: 'vip', values: [false], severity }, { bad: '3', examples: 'true' }],
    ['min (decimal)', { kind: 'min', table: 'customers', column: 'score', bound: 0, severity }, { bad: '1', examples: '-1.00' }],
    ['max (decimal)', { kind: 'max', table: 'customers', column: 'score', bound: 100, severity }, { bad: '1', examples: '1000.50' }],
    ['min (decimal bound with a fraction)', { kind: 'min', table: 'customers', column: 'score', bound: 5.5, severity }, { bad: '3', examples: '-1.00; 0.00; 1.00' }],
    ['min (date, a typed literal for Athena)', { kind: 'min', table: 'customers', column: 'born', bound: '1900-01-01', severity }, { bad: '1', examples: '1899-12-31' }],
    ['max (integer)', { kind: 'max', table: 'lines', column: 'qty', bound: 3, severity }, { bad: '1', examples: '7' }],
    // regression: DuckDB's literals ignored the column's type (Conversion Error on 'x', Binder Error on VARCHAR > 5)
    ['accepted_values (numbers from YAML on a text column)', { kind: 'accepted_values', table: 'codes', column: 'code', values: [1, 2], severity }, { bad: '2', examples: '01; x' }],
    ['max (a number bound on a text column compares as text)', { kind: 'max', table: 'codes', column: 'code', bound: 5, severity }, { bad: '1', examples: 'x' }],
  ];
  it.each(cases)('%s', async (_name, spec, want) => {
    await expectFound(spec, want);
  });

  it('max (timestamptz): the same row found; the example is each engine\'s text of it', async () => {
    const spec: CheckSpec = { kind: 'max', table: 'customers', column: 'signup', bound: '2030-01-01 00:00:00', severity };
    const { duckdb, athena } = await runBoth((d) => checkSql(spec, d, undefined, 'TIMESTAMPTZ'));
    expect(duckdb).toEqual({ bad: '1', examples: '2031-05-06 07:08:09+00' });
    expect(athena).toEqual({ bad: '1', examples: '2031-05-06 07:08:09' }); // the stand-in's text (see freshness)
  });
});

describe('defineChecks → SQL → rows: the gate\'s own list of checks runs on both destinations', () => {
  const base = (name: string, extra: Partial<CatalogTable> = {}): CatalogTable => ({
    name, schema: 'public', primaryKey: ['id'], writeDisposition: 'replace', schemaContract: 'evolve', unnest: [], incremental: undefined,
    freshnessColumn: undefined, freshnessHours: 24, freshnessTimezone: 'UTC',
    severity: { row_count: 'fail', duplicates: 'fail', referential_integrity: 'warn', freshness: 'warn' }, checks: [], ...extra,
  });
  const tables = [
    base('customers', { checks: [{ kind: 'not_null', column: 'email', severity: 'warn' }] }),
    base('orders'),
    base('lines', { primaryKey: ['order_id', 'line_no'] }),
    base('shipments'),
  ];
  const catalog = { relationships: [{ table: 'orders', columns: ['customer_id'], references: 'customers', referencedColumns: ['id'] }] } as unknown as Catalog;
  const sources = new Map<string, SourceTable>([
    ['shipments', { schema: 'public', name: 'shipments', kind: 'r', columns: [], primaryKey: ['id'], foreignKeys: [{ columns: ['order_id', 'line_no'], referencedSchema: 'public', referencedTable: 'lines', referencedColumns: ['order_id', 'line_no'] }] } as unknown as SourceTable],
    // declared in the catalog too: checked once
    ['orders', { schema: 'public', name: 'orders', kind: 'r', columns: [], primaryKey: ['id'], foreignKeys: [{ columns: ['customer_id'], referencedSchema: 'public', referencedTable: 'customers', referencedColumns: ['id'] }] } as unknown as SourceTable],
  ]);

  it('every defined check finds the planted defects, the same on DuckDB and Athena', async () => {
    const specs = defineChecks(catalog, tables, sources);
    const found: string[] = [];
    for (const spec of specs) {
      if (spec.kind === 'freshness') continue; // no freshness column declared: skipped by the gate before any SQL
      const columnType = 'column' in spec && spec.column !== undefined ? typeOf(spec.table, spec.column) : undefined;
      const { duckdb, athena } = await runBoth((d) => checkSql(spec, d, undefined, columnType));
      expect(athena, `${spec.kind} ${spec.table}`).toEqual(duckdb);
      const defects = Number(duckdb.dup_keys ?? 0) + Number(duckdb.null_keys ?? 0) + Number(duckdb.orphans ?? 0) + Number(duckdb.bad ?? 0);
      found.push(`${spec.kind} ${spec.table}${spec.kind === 'referential_integrity' ? ` (${spec.origin})` : ''}: ${spec.kind === 'row_count' ? duckdb.n : defects}`);
    }
    expect(found).toEqual([
      'row_count customers: 8',
      'duplicates customers: 3',
      'row_count orders: 7',
      'duplicates orders: 0',
      'row_count lines: 10',
      'duplicates lines: 6',
      'row_count shipments: 7',
      'duplicates shipments: 0',
      'referential_integrity orders (catalog+source): 3',
      'referential_integrity shipments (source): 3',
      'not_null customers: 2',
    ]);
  });
});
