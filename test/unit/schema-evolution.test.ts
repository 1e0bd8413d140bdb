import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../src/errors.js';
import { schemaFrozenError } from '../../src/schema/schema-contract.js';
import { describeChange, diffColumns, isWidening, normalizeType, type ColumnChange } from '../../src/schema/schema-evolution.js';
import { mapColumn, UNCONSTRAINED_NUMERIC, type ColumnMapping } from '../../src/normalize/column-mapping.js';
import type { SourceColumn } from '../../src/source/postgres/source-column.js';

/** A source column as the introspector builds it. */
function source(name: string, typeName: string, extra: Partial<SourceColumn> = {}): SourceColumn {
  return { name, formatType: typeName, typeName, typeCategory: 'U', elementTypeName: undefined, numericPrecision: undefined, numericScale: undefined, notNull: false, ...extra };
}
const numeric = (name: string, p?: number, s?: number) => source(name, 'numeric', { numericPrecision: p, numericScale: s, formatType: p === undefined ? 'numeric' : `numeric(${p},${s})` });
const mapped = (...columns: SourceColumn[]): ColumnMapping[] => columns.map((c) => mapColumn(c));
const existing = (entries: [string, string][]) => new Map(entries);

describe('normalizeType: DuckDB spellings of one type compare equal', () => {
  it.each([
    ['timestamp with time zone', 'TIMESTAMPTZ'],
    ['TIMESTAMP  WITH   TIME ZONE', 'TIMESTAMPTZ'],
    ['TIME WITH TIME ZONE', 'TIMETZ'],
    ['TIMESTAMP WITH TIME ZONE[]', 'TIMESTAMPTZ[]'],
    ['real', 'FLOAT'],
    ['FLOAT4', 'FLOAT'],
    ['float8', 'DOUBLE'],
    ['int', 'INTEGER'],
    ['INT4', 'INTEGER'],
    ['int8', 'BIGINT'],
    ['int2', 'SMALLINT'],
    ['decimal(10,2)', 'DECIMAL(10,2)'],
    ['VARCHAR', 'VARCHAR'],
  ])('%s → %s', (input, want) => {
    expect(normalizeType(input)).toBe(want);
  });
});

describe('isWidening: every type pair the loader alters in place, and those it must not', () => {
  const widening: [string, string][] = [
    ['TINYINT', 'SMALLINT'], ['SMALLINT', 'INTEGER'], ['INTEGER', 'BIGINT'], ['BIGINT', 'HUGEINT'], ['TINYINT', 'BIGINT'],
    ['FLOAT', 'DOUBLE'], ['REAL', 'DOUBLE'],
    ['DECIMAL(10,2)', 'DECIMAL(12,2)'], ['DECIMAL(10,2)', 'DECIMAL(12,4)'], ['DECIMAL(10,2)', 'DECIMAL(38,9)'],
    ['SMALLINT', 'DECIMAL(5,0)'], ['INTEGER', 'DECIMAL(10,0)'], ['INTEGER', 'DECIMAL(12,2)'], ['BIGINT', 'DECIMAL(19,0)'],
    ['TINYINT', 'DOUBLE'], ['SMALLINT', 'DOUBLE'], ['INTEGER', 'DOUBLE'],
    ['DATE', 'TIMESTAMP'],
    ['INTEGER', 'VARCHAR'], ['BIGINT', 'VARCHAR'], ['DECIMAL(10,2)', 'VARCHAR'], ['DOUBLE', 'VARCHAR'], ['BOOLEAN', 'VARCHAR'],
    ['DATE', 'VARCHAR'], ['TIMESTAMP', 'VARCHAR'], ['UUID', 'VARCHAR'], ['JSON', 'VARCHAR'],
    ['INTEGER', 'INTEGER'], ['int4', 'INTEGER'], ['timestamp with time zone', 'TIMESTAMPTZ'],
  ];
  const narrowing: [string, string][] = [
    ['BIGINT', 'INTEGER'], ['INTEGER', 'SMALLINT'], ['HUGEINT', 'BIGINT'],
    ['DOUBLE', 'FLOAT'], ['DOUBLE', 'BIGINT'], ['FLOAT', 'INTEGER'],
    ['DECIMAL(12,2)', 'DECIMAL(10,2)'], ['DECIMAL(10,4)', 'DECIMAL(10,2)'], ['DECIMAL(10,2)', 'DECIMAL(10,4)'], ['DECIMAL(10,2)', 'DOUBLE'], ['DECIMAL(10,0)', 'INTEGER'],
    ['INTEGER', 'DECIMAL(9,0)'], ['INTEGER', 'DECIMAL(12,3)'], ['BIGINT', 'DECIMAL(18,0)'], ['HUGEINT', 'DECIMAL(38,0)'],
    ['BIGINT', 'DOUBLE'], ['HUGEINT', 'DOUBLE'],
    ['DATE', 'TIMESTAMPTZ'], ['TIMESTAMP', 'DATE'], ['TIMESTAMP', 'TIMESTAMPTZ'], ['TIMESTAMPTZ', 'TIMESTAMP'],
    ['VARCHAR', 'INTEGER'], ['VARCHAR', 'DATE'], ['VARCHAR', 'JSON'], ['BLOB', 'VARCHAR'], ['INTEGER[]', 'VARCHAR'], ['INTEGER[]', 'BIGINT[]'],
    ['BOOLEAN', 'INTEGER'], ['UUID', 'BLOB'],
  ];
  it.each(widening)('%s → %s widens', (from, to) => expect(isWidening(from, to)).toBe(true));
  it.each(narrowing)('%s → %s does not', (from, to) => expect(isWidening(from, to)).toBe(false));

  // the claim "every value converts exactly" proven on DuckDB itself: the extremes of `from`, altered to `to`, read back
  describe('on DuckDB: each claimed widening keeps the extremes of the old type exactly', () => {
    let instance: DuckDBInstance;
    let c: DuckDBConnection;
    beforeAll(async () => {
      instance = await DuckDBInstance.create(':memory:');
      c = await instance.connect();
      await c.run("SET TimeZone = 'UTC'");
    });
    afterAll(() => {
      c.closeSync();
      instance.closeSync();
    });
    const extremes: Record<string, string[]> = {
      TINYINT: ['-128', '127'], SMALLINT: ['-32768', '32767'], INTEGER: ['-2147483648', '2147483647'],
      BIGINT: ['-9223372036854775808', '9223372036854775807'], FLOAT: ['3.4028235e38', '-1.17549435e-38', '0.1'],
      'DECIMAL(10,2)': ['-99999999.99', '99999999.99', '0.01'], DATE: ['0001-01-01', '9999-12-31'],
    };
    const pairs = widening.filter(([from, to]) => extremes[from] && from !== to && to !== 'VARCHAR');
    it.each(pairs)('%s → %s', async (from, to) => {
      await c.run(`CREATE OR REPLACE TABLE w (v ${from})`);
      for (const v of extremes[from]!) await c.run(`INSERT INTO w VALUES (CAST('${v}' AS ${from}))`);
      const before = (await c.runAndReadAll('SELECT CAST(v AS VARCHAR) AS v FROM w ORDER BY v')).getRowObjectsJS();
      await c.run(`ALTER TABLE w ALTER COLUMN v SET DATA TYPE ${to}`);
      const after = (await c.runAndReadAll(`SELECT CAST(CAST(v AS ${from}) AS VARCHAR) AS v, CAST(v AS ${from}) = v AS exact FROM w ORDER BY v`)).getRowObjectsJS();
      expect(after.map((r) => r.v)).toEqual(before.map((r) => r.v));
      expect(after.every((r) => r.exact === true)).toBe(true);
    });
  });
});

describe('diffColumns: every change kind', () => {
  const cases: { name: string; before: [string, string][]; now: ColumnMapping[]; want: ColumnChange[] }[] = [
    { name: 'unchanged', before: [['id', 'INTEGER'], ['name', 'VARCHAR']], now: mapped(source('id', 'int4'), source('name', 'text')), want: [] },
    { name: 'unchanged, other spelling of the type', before: [['id', 'INT4'], ['at', 'TIMESTAMP WITH TIME ZONE']], now: mapped(source('id', 'int4'), source('at', 'timestamptz')), want: [] },
    { name: 'added', before: [['id', 'INTEGER']], now: mapped(source('id', 'int4'), source('note', 'text')), want: [{ kind: 'added', column: 'note', to: 'VARCHAR' }] },
    { name: 'dropped', before: [['id', 'INTEGER'], ['note', 'VARCHAR']], now: mapped(source('id', 'int4')), want: [{ kind: 'dropped', column: 'note', from: 'VARCHAR' }] },
    {
      name: 'renamed: the old name dropped, the new one added (changes in the source column order, drops last)',
      before: [['id', 'INTEGER'], ['nm', 'VARCHAR']],
      now: mapped(source('id', 'int4'), source('name', 'text')),
      want: [{ kind: 'added', column: 'name', to: 'VARCHAR' }, { kind: 'dropped', column: 'nm', from: 'VARCHAR' }],
    },
    { name: 'widened int4 → int8', before: [['id', 'INTEGER']], now: mapped(source('id', 'int8')), want: [{ kind: 'widened', column: 'id', from: 'INTEGER', to: 'BIGINT' }] },
    { name: 'widened real → double', before: [['x', 'FLOAT']], now: mapped(source('x', 'float8')), want: [{ kind: 'widened', column: 'x', from: 'FLOAT', to: 'DOUBLE' }] },
    { name: 'widened numeric(10,2) → numeric(14,4)', before: [['x', 'DECIMAL(10,2)']], now: mapped(numeric('x', 14, 4)), want: [{ kind: 'widened', column: 'x', from: 'DECIMAL(10,2)', to: 'DECIMAL(14,4)' }] },
    { name: 'widened date → timestamp', before: [['d', 'DATE']], now: mapped(source('d', 'timestamp')), want: [{ kind: 'widened', column: 'd', from: 'DATE', to: 'TIMESTAMP' }] },
    { name: 'widened int → text', before: [['x', 'INTEGER']], now: mapped(source('x', 'text')), want: [{ kind: 'widened', column: 'x', from: 'INTEGER', to: 'VARCHAR' }] },
    { name: 'incompatible int8 → int4', before: [['id', 'BIGINT']], now: mapped(source('id', 'int4')), want: [{ kind: 'incompatible', column: 'id', from: 'BIGINT', to: 'INTEGER' }] },
    { name: 'incompatible text → int', before: [['x', 'VARCHAR']], now: mapped(source('x', 'int4')), want: [{ kind: 'incompatible', column: 'x', from: 'VARCHAR', to: 'INTEGER' }] },
    { name: 'incompatible numeric(10,4) → numeric(10,2)', before: [['x', 'DECIMAL(10,4)']], now: mapped(numeric('x', 10, 2)), want: [{ kind: 'incompatible', column: 'x', from: 'DECIMAL(10,4)', to: 'DECIMAL(10,2)' }] },
    { name: 'incompatible timestamp → timestamptz', before: [['at', 'TIMESTAMP']], now: mapped(source('at', 'timestamptz')), want: [{ kind: 'incompatible', column: 'at', from: 'TIMESTAMP', to: 'TIMESTAMPTZ' }] },
    { name: 'incompatible date → timestamptz', before: [['d', 'DATE']], now: mapped(source('d', 'timestamptz')), want: [{ kind: 'incompatible', column: 'd', from: 'DATE', to: 'TIMESTAMPTZ' }] },
    { name: 'incompatible text → bytea', before: [['b', 'VARCHAR']], now: mapped(source('b', 'bytea')), want: [{ kind: 'incompatible', column: 'b', from: 'VARCHAR', to: 'BLOB' }] },
    // measured per load: DECIMAL(38, s) of any scale or the lossless text form stay "unchanged"
    { name: 'unconstrained numeric measured as DECIMAL(38,2)', before: [['n', 'DECIMAL(38,2)']], now: mapped(numeric('n')), want: [] },
    { name: 'unconstrained numeric fell back to text', before: [['n', 'VARCHAR']], now: mapped(numeric('n')), want: [] },
    { name: 'numeric(18,2) → unconstrained widens', before: [['n', 'DECIMAL(18,2)']], now: mapped(numeric('n')), want: [{ kind: 'widened', column: 'n', from: 'DECIMAL(18,2)', to: UNCONSTRAINED_NUMERIC }] },
    { name: 'double → unconstrained numeric is incompatible', before: [['n', 'DOUBLE']], now: mapped(numeric('n')), want: [{ kind: 'incompatible', column: 'n', from: 'DOUBLE', to: UNCONSTRAINED_NUMERIC }] },
    // a text_fallback column (a BC date, NaN) that is already exact text stays text
    { name: 'date kept as text fallback', before: [['d', 'VARCHAR']], now: mapped(source('d', 'date')), want: [] },
    { name: 'timestamptz kept as text fallback', before: [['at', 'VARCHAR']], now: mapped(source('at', 'timestamptz')), want: [] },
    { name: 'numeric(10,2) kept as text fallback', before: [['x', 'VARCHAR']], now: mapped(numeric('x', 10, 2)), want: [] },
    {
      name: 'several at once, in source order then drops',
      before: [['a', 'INTEGER'], ['b', 'BIGINT'], ['gone', 'DATE'], ['c', 'VARCHAR']],
      now: mapped(source('c', 'text'), source('b', 'int4'), source('a', 'int8'), source('new', 'bool')),
      want: [
        { kind: 'incompatible', column: 'b', from: 'BIGINT', to: 'INTEGER' },
        { kind: 'widened', column: 'a', from: 'INTEGER', to: 'BIGINT' },
        { kind: 'added', column: 'new', to: 'BOOLEAN' },
        { kind: 'dropped', column: 'gone', from: 'DATE' },
      ],
    },
  ];
  it.each(cases)('$name', ({ before, now, want }) => {
    expect(diffColumns(existing(before), now, { caseSensitive: false })).toEqual(want);
    expect(diffColumns(existing(before), now, { caseSensitive: true })).toEqual(want);
  });

  it('compares destination names, not source names (a mapped name is what the destination holds)', () => {
    const now = [mapColumn(source('Code', 'int4'), 'code')];
    expect(diffColumns(existing([['code', 'INTEGER']]), now, { caseSensitive: true })).toEqual([]);
    expect(diffColumns(existing([['Code', 'INTEGER']]), now, { caseSensitive: true })).toEqual([
      { kind: 'added', column: 'code', to: 'INTEGER' },
      { kind: 'dropped', column: 'Code', from: 'INTEGER' },
    ]);
  });

  describe('a column renamed only by case (regression: an added column beside the old one, left all NULL on DuckDB)', () => {
    it('where names ignore case, it is the stored column, renamed: not added and dropped', () => {
      const now = mapped(source('id', 'int4'), source('Title', 'text'));
      expect(diffColumns(existing([['id', 'INTEGER'], ['title', 'VARCHAR']]), now, { caseSensitive: false })).toEqual([
        { kind: 'renamed', column: 'Title', previousName: 'title' },
      ]);
      // once renamed, nothing differs
      expect(diffColumns(existing([['id', 'INTEGER'], ['Title', 'VARCHAR']]), now, { caseSensitive: false })).toEqual([]);
    });

    it('a type change of the renamed column is reported under its new spelling', () => {
      const now = mapped(source('Amount', 'int8'), source('Code', 'int4'));
      expect(diffColumns(existing([['amount', 'INTEGER'], ['code', 'BIGINT']]), now, { caseSensitive: false })).toEqual([
        { kind: 'renamed', column: 'Amount', previousName: 'amount' },
        { kind: 'widened', column: 'Amount', from: 'INTEGER', to: 'BIGINT' },
        { kind: 'renamed', column: 'Code', previousName: 'code' },
        { kind: 'incompatible', column: 'Code', from: 'BIGINT', to: 'INTEGER' },
      ]);
    });

    it('an exact name wins over a match by case: the two columns of a source that has both keep theirs', () => {
      const now = [mapColumn(source('Id', 'int4'), 'Id'), mapColumn(source('id', 'int4'), 'id__2')];
      expect(diffColumns(existing([['Id', 'INTEGER'], ['id__2', 'INTEGER']]), now, { caseSensitive: false })).toEqual([]);
    });

    it('where names keep their case, it is another column: added, the old one dropped', () => {
      expect(diffColumns(existing([['title', 'VARCHAR']]), mapped(source('Title', 'text')), { caseSensitive: true })).toEqual([
        { kind: 'added', column: 'Title', to: 'VARCHAR' },
        { kind: 'dropped', column: 'title', from: 'VARCHAR' },
      ]);
    });
  });
});

describe('describeChange and the freeze contract', () => {
  it.each<[ColumnChange, string]>([
    [{ kind: 'added', column: 'x', to: 'VARCHAR' }, 'orders: column x (VARCHAR) is new in the source; added'],
    [{ kind: 'widened', column: 'x', from: 'INTEGER', to: 'BIGINT' }, 'orders: column x widens from INTEGER to BIGINT'],
    [{ kind: 'dropped', column: 'x', from: 'DATE' }, 'orders: column x (DATE) no longer exists in the source; kept in the destination, NULL in new rows (--full-refresh orders removes it)'],
    [{ kind: 'incompatible', column: 'x', from: 'BIGINT', to: 'INTEGER' }, 'orders: column x changes from BIGINT to INTEGER, which cannot hold every old value'],
    [{ kind: 'renamed', column: 'X', previousName: 'x' }, 'orders: column x is spelled X in the source now (the same column to the destination); renamed'],
  ])('%o', (change, text) => {
    expect(describeChange('orders', change)).toBe(text);
    expect(describeChange('orders', change, false)).toBe(text.slice('orders: '.length));
  });

  it('a frozen table with any change is a DataError naming every change, what was written (nothing) and what to do', () => {
    const error = schemaFrozenError('orders', [
      { kind: 'added', column: 'note', to: 'VARCHAR' },
      { kind: 'widened', column: 'id', from: 'INTEGER', to: 'BIGINT' },
    ]);
    expect(error).toBeInstanceOf(DataError);
    expect(error.exitCode).toBe(4);
    expect(error.message).toContain('orders: column note (VARCHAR) is new in the source; added; orders: column id widens from INTEGER to BIGINT');
    expect(error.message).toContain('Nothing was written');
    expect(error.message).toContain('schema_contract: evolve');
  });
});
