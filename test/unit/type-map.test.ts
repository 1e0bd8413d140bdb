import { describe, expect, it } from 'vitest';
import { destinationNames, mapColumn, UNCONSTRAINED_NUMERIC } from '../../src/normalize/column-mapping.js';
import type { SourceColumn } from '../../src/source/postgres/source-column.js';

/** A SourceColumn as the introspector would build it; only what differs per test is given. */
function col(typeName: string, extra: Partial<SourceColumn> = {}): SourceColumn {
  return {
    name: 'c',
    formatType: typeName,
    typeName,
    typeCategory: 'U',
    elementTypeName: undefined,
    numericPrecision: undefined,
    numericScale: undefined,
    notNull: false,
    ...extra,
  };
}

function arrayCol(element: string, extra: Partial<SourceColumn> = {}): SourceColumn {
  return col(`_${element}`, { formatType: `${element}[]`, typeCategory: 'A', elementTypeName: element, ...extra });
}

describe('mapColumn: types with a direct DuckDB equivalent', () => {
  it.each([
    ['int2', 'smallint', 'SMALLINT'],
    ['int4', 'integer', 'INTEGER'],
    ['int8', 'bigint', 'BIGINT'],
    ['oid', 'oid', 'UBIGINT'],
    ['float4', 'real', 'FLOAT'],
    ['float8', 'double precision', 'DOUBLE'],
    ['bool', 'boolean', 'BOOLEAN'],
    ['text', 'text', 'VARCHAR'],
    ['varchar', 'character varying(20)', 'VARCHAR'],
    ['bpchar', 'character(3)', 'VARCHAR'],
    ['name', 'name', 'VARCHAR'],
    ['citext', 'citext', 'VARCHAR'],
    ['uuid', 'uuid', 'UUID'],
    ['json', 'json', 'JSON'],
    ['jsonb', 'jsonb', 'JSON'],
    ['time', 'time without time zone', 'TIME'],
    ['timetz', 'time with time zone', 'TIMETZ'],
  ])('%s -> %s', (typeName, formatType, duck) => {
    const m = mapColumn(col(typeName, { name: 'v', formatType }));
    expect(m).toEqual({
      name: 'v',
      sourceName: 'v',
      sourceType: formatType,
      destinationType: duck,
      csvType: duck,
      selectSql: '"v"',
      castSql: '"v"',
      guard: undefined,
    });
  });
});

describe('mapColumn: numeric', () => {
  it('numeric(10,2) -> DECIMAL(10,2), read directly, exact text if a NaN shows up', () => {
    const m = mapColumn(col('numeric', { name: 'amount', formatType: 'numeric(10,2)', typeCategory: 'N', numericPrecision: 10, numericScale: 2 }));
    expect(m).toMatchObject({
      sourceType: 'numeric(10,2)',
      destinationType: 'DECIMAL(10,2)',
      csvType: 'DECIMAL(10,2)',
      selectSql: '"amount"',
      castSql: '"amount"',
      guard: 'text_fallback',
    });
  });

  it('numeric(38,0) and numeric(38,38) still fit DECIMAL', () => {
    expect(mapColumn(col('numeric', { numericPrecision: 38, numericScale: 0 })).destinationType).toBe('DECIMAL(38,0)');
    expect(mapColumn(col('numeric', { numericPrecision: 38, numericScale: 38 })).destinationType).toBe('DECIMAL(38,38)');
    expect(mapColumn(col('numeric', { numericPrecision: 1, numericScale: 0 })).destinationType).toBe('DECIMAL(1,0)');
  });

  it('numeric without precision -> DECIMAL(38,9), read as VARCHAR, guarded', () => {
    expect(UNCONSTRAINED_NUMERIC).toBe('DECIMAL(38,9)');
    const m = mapColumn(col('numeric', { name: 'n', formatType: 'numeric', typeCategory: 'N' }));
    expect(m).toEqual({
      name: 'n',
      sourceName: 'n',
      sourceType: 'numeric',
      destinationType: 'DECIMAL(38,9)',
      csvType: 'VARCHAR',
      selectSql: '"n"',
      castSql: 'CAST("n" AS DECIMAL(38,9))',
      guard: 'unconstrained_numeric',
    });
  });

  it('numeric(50,10) is wider than DuckDB: kept as exact VARCHAR, no guard', () => {
    const m = mapColumn(col('numeric', { name: 'big', formatType: 'numeric(50,10)', numericPrecision: 50, numericScale: 10 }));
    expect(m).toMatchObject({ destinationType: 'VARCHAR', csvType: 'VARCHAR', selectSql: '"big"', castSql: '"big"', guard: undefined });
  });

  it('numeric(39,0) is VARCHAR too', () => {
    expect(mapColumn(col('numeric', { numericPrecision: 39, numericScale: 0 })).destinationType).toBe('VARCHAR');
  });

  it('PostgreSQL 15 negative scale or scale > precision: VARCHAR, never a DECIMAL that would round', () => {
    expect(mapColumn(col('numeric', { numericPrecision: 5, numericScale: -2 })).destinationType).toBe('VARCHAR');
    expect(mapColumn(col('numeric', { numericPrecision: 3, numericScale: 5 })).destinationType).toBe('VARCHAR');
  });

  it('money -> DECIMAL(19,2) through ::numeric (not the locale-formatted text)', () => {
    const m = mapColumn(col('money', { name: 'price' }));
    expect(m).toMatchObject({ destinationType: 'DECIMAL(19,2)', csvType: 'DECIMAL(19,2)', selectSql: '"price"::numeric', castSql: '"price"' });
  });
});

describe('mapColumn: dates and timestamps', () => {
  it.each([
    ['timestamptz', 'timestamp with time zone', 'TIMESTAMPTZ'],
    ['timestamp', 'timestamp without time zone', 'TIMESTAMP'],
    ['date', 'date', 'DATE'],
  ])('%s -> %s, guarded (exact text when DuckDB refuses a value)', (typeName, formatType, duck) => {
    const m = mapColumn(col(typeName, { name: 'ts', formatType }));
    expect(m.destinationType).toBe(duck);
    // DuckDB's CSV reader turns a TIMESTAMPTZ it cannot parse into NULL silently: read as text and cast instead
    expect(m.csvType).toBe(duck === 'TIMESTAMPTZ' ? 'VARCHAR' : duck);
    expect(m.castSql).toBe(duck === 'TIMESTAMPTZ' ? 'CAST("ts" AS TIMESTAMPTZ)' : '"ts"');
    expect(m.guard).toBe('text_fallback');
  });

  it('date: the select marks BC values so DuckDB refuses them', () => {
    const m = mapColumn(col('date', { name: 'd' }));
    expect(m.selectSql).toBe(
      `CASE WHEN (("d" < '0001-01-01') AND isfinite("d")) THEN 'not representable in DuckDB: ' || "d"::text ELSE "d"::text END`,
    );
  });

  it.each(['timestamptz', 'timestamp'])('%s: the select marks BC values and years past DuckDB\'s range (294246)', (typeName) => {
    const m = mapColumn(col(typeName, { name: 'd' }));
    expect(m.selectSql).toBe(
      `CASE WHEN (("d" < '0001-01-01' OR "d" >= '294247-01-01') AND isfinite("d")) THEN 'not representable in DuckDB: ' || "d"::text ELSE "d"::text END`,
    );
  });

  it('the BC marker uses the quoted column name everywhere', () => {
    const m = mapColumn(col('date', { name: 'born "on"' }));
    expect(m.selectSql).toContain('"born ""on""" < \'0001-01-01\'');
    expect(m.selectSql).toContain('isfinite("born ""on""")');
    expect(m.selectSql).not.toMatch(/[^"]"born "on"/);
  });
});

describe('mapColumn: binary, arrays, everything else', () => {
  it('bytea travels as hex (base64 would wrap lines) and is decoded into a BLOB', () => {
    const m = mapColumn(col('bytea', { name: 'payload' }));
    expect(m).toMatchObject({
      destinationType: 'BLOB',
      csvType: 'VARCHAR',
      selectSql: `encode("payload", 'hex')`,
      castSql: 'unhex("payload")',
      guard: undefined,
    });
  });

  it('int4[] -> INTEGER[] through JSON', () => {
    const m = mapColumn(arrayCol('int4', { name: 'ids' }));
    expect(m).toEqual({
      name: 'ids',
      sourceName: 'ids',
      sourceType: 'int4[]',
      destinationType: 'INTEGER[]',
      csvType: 'VARCHAR',
      selectSql: 'to_json("ids")::text',
      castSql: 'CAST(CAST("ids" AS JSON) AS INTEGER[])',
      guard: undefined,
    });
  });

  it.each([
    ['int8', 'BIGINT[]'],
    ['text', 'VARCHAR[]'],
    ['bool', 'BOOLEAN[]'],
    ['uuid', 'UUID[]'],
    ['float8', 'DOUBLE[]'],
    ['date', 'DATE[]'],
    ['timestamptz', 'TIMESTAMPTZ[]'],
  ])('%s[] -> %s', (element, duck) => {
    const m = mapColumn(arrayCol(element));
    expect(m.destinationType).toBe(duck);
    expect(m.csvType).toBe('VARCHAR');
    expect(m.castSql).toBe(`CAST(CAST("c" AS JSON) AS ${duck})`);
  });

  it.each(['jsonb', 'json', 'timetz', 'numeric', 'inet', 'my_enum'])('%s[] stays JSON', (element) => {
    const m = mapColumn(arrayCol(element));
    expect(m).toMatchObject({ destinationType: 'JSON', csvType: 'JSON', selectSql: 'to_json("c")::text', castSql: '"c"' });
  });

  it('an array without an element type falls back to text', () => {
    const m = mapColumn(col('_weird', { typeCategory: 'A', elementTypeName: undefined }));
    expect(m).toMatchObject({ destinationType: 'VARCHAR', csvType: 'VARCHAR', selectSql: '"c"::text' });
  });

  it.each([
    ['inet', 'I', 'inet'],
    ['cidr', 'I', 'cidr'],
    ['mood', 'E', 'mood'],
    ['int4range', 'R', 'int4range'],
    ['xml', 'U', 'xml'],
    ['tsvector', 'U', 'tsvector'],
    ['varbit', 'V', 'bit varying(8)'],
  ])('%s (category %s) -> VARCHAR via ::text', (typeName, typeCategory, formatType) => {
    const m = mapColumn(col(typeName, { name: 'x', typeCategory, formatType }));
    expect(m).toEqual({
      name: 'x',
      sourceName: 'x',
      sourceType: formatType,
      destinationType: 'VARCHAR',
      csvType: 'VARCHAR',
      selectSql: '"x"::text',
      castSql: '"x"',
      guard: undefined,
    });
  });
});

describe('mapColumn: interval and multi-dimensional arrays', () => {
  it('interval travels as months,days,microseconds and becomes a DuckDB INTERVAL', () => {
    const m = mapColumn(col('interval', { name: 'iv', typeCategory: 'T', formatType: 'interval' }));
    expect(m.destinationType).toBe('INTERVAL');
    expect(m.csvType).toBe('VARCHAR');
    expect(m.selectSql).toContain('extract(microseconds from "iv")');
    expect(m.castSql).toContain('to_months(');
  });

  it('a declared 2-D array is kept as JSON', () => {
    const m = mapColumn(col('_int4', { typeCategory: 'A', elementTypeName: 'int4', dimensions: 2 }));
    expect(m.destinationType).toBe('JSON');
  });

  it('the destination name is used on the DuckDB side, the source name in the SELECT', () => {
    const m = mapColumn(col('bytea', { name: 'Data', typeCategory: 'U' }), 'Data__2');
    expect(m).toMatchObject({ name: 'Data__2', sourceName: 'Data', selectSql: `encode("Data", 'hex')`, castSql: 'unhex("Data__2")' });
  });
});

describe('destinationNames', () => {
  it('keeps names, and suffixes case-insensitive collisions in order', () => {
    expect(destinationNames(['id', 'Name', 'name', 'NAME', 'name__2'], { caseSensitive: false, lowerCase: false })).toEqual([
      'id', 'Name', 'name__2', 'NAME__3', 'name__2__2',
    ]);
  });
  it('lower-cases everything for a lower-case destination', () => {
    expect(destinationNames(['Id', 'id', 'Total Amount'], { caseSensitive: false, lowerCase: true })).toEqual(['id', 'id__2', 'total amount']);
  });
  it('changes nothing where names are case-sensitive', () => {
    expect(destinationNames(['a', 'A'], { caseSensitive: true, lowerCase: false })).toEqual(['a', 'A']);
  });
});

describe('mapColumn: column names are quoted', () => {
  it('embedded double quotes are doubled in every SQL expression', () => {
    const name = 'say "hi"';
    const q = '"say ""hi"""';
    expect(mapColumn(col('int4', { name }))).toMatchObject({ name, selectSql: q, castSql: q });
    expect(mapColumn(col('inet', { name })).selectSql).toBe(`${q}::text`);
    expect(mapColumn(col('bytea', { name })).castSql).toBe(`unhex(${q})`);
    expect(mapColumn(col('numeric', { name })).castSql).toBe(`CAST(${q} AS DECIMAL(38,9))`);
    expect(mapColumn(arrayCol('int4', { name })).selectSql).toBe(`to_json(${q})::text`);
  });

  it('upper case, spaces, semicolons and reserved words are kept verbatim inside quotes', () => {
    expect(mapColumn(col('int4', { name: 'Order' })).selectSql).toBe('"Order"');
    expect(mapColumn(col('int4', { name: 'a b; DROP TABLE x' })).selectSql).toBe('"a b; DROP TABLE x"');
    expect(mapColumn(col('int4', { name: "it's" })).selectSql).toBe('"it\'s"');
  });

  it('a NUL in a column name is refused', () => {
    expect(() => mapColumn(col('int4', { name: 'a\u0000b' }))).toThrow(/NUL/);
  });
});
