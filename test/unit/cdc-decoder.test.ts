import { describe, expect, it } from 'vitest';
import { OUT_OF_RANGE_MARKER, type ColumnMapping } from '../../src/normalize/column-mapping.js';
import { converterFor, intervalText, parseArray } from '../../src/pipeline/cdc-values.js';
import { cdcSlotName } from '../../src/source/postgres/cdc/cdc-slot.js';
import { decodeMessage, lsnText, lsnValue } from '../../src/source/postgres/cdc/pgoutput-decoder.js';

const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const text = (s: string) => Buffer.concat([Buffer.from('t'), int32(Buffer.byteLength(s)), Buffer.from(s)]);
const cstr = (s: string) => Buffer.concat([Buffer.from(s), Buffer.from([0])]);

describe('pgoutput decoder', () => {
  it('decodes Begin and Commit with their LSNs as PostgreSQL text', () => {
    const begin = Buffer.from('42000000000194a83000030497cdfa6282000002d9', 'hex');
    expect(decodeMessage(begin)).toMatchObject({ tag: 'begin', finalLsn: '0/194A830', xid: 729 });
    const commit = Buffer.from('4300000000000194a830000000000194a86000030497cdfa6282', 'hex');
    expect(decodeMessage(commit)).toMatchObject({ tag: 'commit', commitLsn: '0/194A830', endLsn: '0/194A860' });
  });

  it('decodes Relation, and Update with an unchanged TOAST value, a NULL and an old key', () => {
    const relation = Buffer.concat([
      Buffer.from('R'), int32(16385), cstr('public'), cstr('t'), Buffer.from('d'), int16(2),
      Buffer.from([1]), cstr('id'), int32(23), int32(-1), Buffer.from([0]), cstr('big'), int32(25), int32(-1),
    ]);
    expect(decodeMessage(relation)).toEqual({
      tag: 'relation', relationOid: 16385, schema: 'public', name: 't', replicaIdentity: 'd',
      columns: [{ key: true, name: 'id', typeOid: 23, typeModifier: -1 }, { key: false, name: 'big', typeOid: 25, typeModifier: -1 }],
    });
    const update = Buffer.concat([Buffer.from('U'), int32(16385), Buffer.from('K'), int16(2), text('1'), Buffer.from('n'), Buffer.from('N'), int16(2), text('2'), Buffer.from('u')]);
    expect(decodeMessage(update)).toEqual({
      tag: 'update', relationOid: 16385, oldKind: 'key', old: [{ kind: 'text', text: '1' }, { kind: 'null' }], row: [{ kind: 'text', text: '2' }, { kind: 'unchanged' }],
    });
    const truncate = Buffer.concat([Buffer.from('T'), int32(2), Buffer.from([1]), int32(16385), int32(16390)]);
    expect(decodeMessage(truncate)).toEqual({ tag: 'truncate', cascade: true, restartIdentity: false, relationOids: [16385, 16390] });
    const del = Buffer.concat([Buffer.from('D'), int32(16385), Buffer.from('O'), int16(1), text('é ü')]);
    expect(decodeMessage(del)).toEqual({ tag: 'delete', relationOid: 16385, oldKind: 'full', old: [{ kind: 'text', text: 'é ü' }] });
  });

  it('compares LSNs as 64-bit positions', () => {
    expect(lsnValue('16/B374D848')).toBe(0x16b374d848n);
    expect(lsnValue('0/FFFFFFFF') < lsnValue('1/0')).toBe(true);
    expect(lsnText(0x16, 0xb374d848)).toBe('16/B374D848');
  });
});

describe('pgoutput text → the COPY text the loader casts', () => {
  const column = (over: Partial<ColumnMapping>): ColumnMapping =>
    ({ name: 'c', sourceName: 'c', sourceType: 'text', destinationType: 'VARCHAR', selectSql: '"c"', csvType: 'VARCHAR', castSql: '"c"', guard: undefined, ...over }) as ColumnMapping;

  it('intervals as months,days,microseconds (IntervalStyle postgres), exactly', () => {
    expect(intervalText('1 year 2 mons -3 days +04:05:06.5')).toBe('14,-3,14706500000');
    expect(intervalText('-1 days -00:00:01')).toBe('0,-1,-1000000');
    expect(intervalText('00:00:00')).toBe('0,0,0');
    expect(intervalText('178956970 years 7 mons 2147483647 days 2562047788:00:54.775807')).toBe('2147483647,2147483647,9223372036854775807');
  });

  it('arrays as JSON, bytea without \\x, BC dates marked, money as numeric', () => {
    expect(parseArray('{1,NULL,3}')).toEqual(['1', null, '3']);
    expect(parseArray('{"a b","c\\"d",NULL,"NULL"}')).toEqual(['a b', 'c"d', null, 'NULL']);
    expect(parseArray('{{1,2},{3,4}}')).toEqual([['1', '2'], ['3', '4']]);
    expect(parseArray('{}')).toEqual([]);
    expect(converterFor(column({ destinationType: 'INTEGER[]', selectSql: 'to_json("c")::text' }))('{1,NULL,3}')).toBe('[1,null,3]');
    expect(converterFor(column({ destinationType: 'BOOLEAN[]', selectSql: 'to_json("c")::text' }))('{t,f}')).toBe('[true,false]');
    expect(converterFor(column({ destinationType: 'VARCHAR[]', selectSql: 'to_json("c")::text' }))('{"x,y",z}')).toBe('["x,y","z"]');
    expect(converterFor(column({ destinationType: 'BLOB' }))('\\xdeadbeef')).toBe('deadbeef');
    expect(converterFor(column({ destinationType: 'DATE' }))('0044-03-15 BC')).toBe(`${OUT_OF_RANGE_MARKER}0044-03-15 BC`);
    expect(converterFor(column({ destinationType: 'TIMESTAMPTZ' }))('2026-01-01 10:00:00.123456+00')).toBe('2026-01-01 10:00:00.123456+00');
    expect(converterFor(column({ sourceType: 'money', destinationType: 'DECIMAL(19,2)' }))('-$1,234.56')).toBe('-1234.56');
  });
});

describe('slot names', () => {
  it('one per destination and dataset, [a-z0-9_], at most 63 characters', () => {
    const a = cdcSlotName('duckdb:/data/a.duckdb#raw_x', 'raw_x');
    const b = cdcSlotName('duckdb:/data/b.duckdb#raw_x', 'raw_x');
    expect(a).toMatch(/^ingesta_raw_x_[0-9a-f]{12}$/);
    expect(a).not.toBe(b);
    const long = cdcSlotName('s3://bucket/prefix#x', 'A_Very_Long_Dataset_Name_That_Goes_On_And_On_Beyond_Any_Limit_Really');
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z0-9_]+$/);
  });
});
