import type { SourceColumn } from '../source/postgres/source-column.js';
import { quoteIdent } from '../sql/quote.js';
import { declaredWideDecimalCast } from './wide-decimal.js';

/**
 * How one column travels: the SQL expression PostgreSQL puts into COPY, the type DuckDB's CSV reader parses it
 * as, and the expression that turns that into the destination type. Values stay text until DuckDB casts them.
 */
export interface ColumnMapping {
  /** Name in the destination (see destinationNames). */
  readonly name: string;
  /** Name in the source. */
  readonly sourceName: string;
  readonly sourceType: string;
  /** Destination (DuckDB) type, declared, never sniffed. */
  readonly destinationType: string;
  /** Expression in the COPY SELECT (the source's text form unless a lossless rewrite is needed). */
  readonly selectSql: string;
  /** Type read_csv parses the field as. */
  readonly csvType: string;
  /** DuckDB expression from the CSV column (quoted name) to destinationType. */
  readonly castSql: string;
  /**
   * Values the destination type may not hold: unconstrained numerics are measured (DECIMAL(38,s) or exact text);
   * `text_fallback` columns (dates/timestamps, numeric(p,s)) become exact text when DuckDB refuses a value of theirs
   * (a BC date, a timestamp past DuckDB's range, NaN).
   */
  readonly guard: 'unconstrained_numeric' | 'text_fallback' | undefined;
}

/** What the typing step needs of a package table: its name, its columns, whether the load replaces the table. */
export interface MappedTable {
  readonly name: string;
  readonly columns: readonly ColumnMapping[];
  readonly replaceAll: boolean;
}

/** numeric without declared precision: DuckDB's widest exact decimal keeps 29 integer and 9 fraction digits. */
export const UNCONSTRAINED_NUMERIC = 'DECIMAL(38,9)';

const SIMPLE: Readonly<Record<string, string>> = {
  int2: 'SMALLINT',
  int4: 'INTEGER',
  int8: 'BIGINT',
  oid: 'UBIGINT',
  float4: 'FLOAT',
  float8: 'DOUBLE',
  bool: 'BOOLEAN',
  text: 'VARCHAR',
  varchar: 'VARCHAR',
  bpchar: 'VARCHAR',
  name: 'VARCHAR',
  citext: 'VARCHAR',
  uuid: 'UUID',
  json: 'JSON',
  jsonb: 'JSON',
  time: 'TIME',
  timetz: 'TIMETZ',
};

/** Put before the text of a date/timestamp DuckDB cannot hold: DuckDB refuses it (it would read '0044-03-15 BC' as
 * year 44 AD; its timestamps end in 294247, PostgreSQL's in 294276), the loader then keeps the column as exact text. */
export const OUT_OF_RANGE_MARKER = 'not representable in DuckDB: ';

/** Temporal types whose BC values DuckDB would silently read as AD: they are marked so the cast fails loudly. */
const TEMPORAL: Readonly<Record<string, string>> = { date: 'DATE', timestamp: 'TIMESTAMP', timestamptz: 'TIMESTAMPTZ' };

/** Whether a value of a temporal type (SQL over `v`) is finite and outside DuckDB's range: BC, or (timestamps) past 294246. */
function outOfRange(v: string, typeName: string): string {
  const late = typeName === 'date' ? '' : ` OR ${v} >= '294247-01-01'`;
  return `((${v} < '0001-01-01'${late}) AND isfinite(${v}))`;
}

/**
 * Maps one PostgreSQL column to its DuckDB column and the text path between them. `destinationName` is the column's
 * name in the destination (the source name unless the name mapping had to change it).
 */
export function mapColumn(column: SourceColumn, destinationName: string = column.name): ColumnMapping {
  const q = quoteIdent(column.name); // in the PostgreSQL SELECT
  const d = quoteIdent(destinationName); // in DuckDB: the CSV column and the table column
  const base = { name: destinationName, sourceName: column.name, sourceType: column.formatType, selectSql: q, castSql: d, guard: undefined } as const;
  const simple = SIMPLE[column.typeName];
  if (simple) return { ...base, destinationType: simple, csvType: simple };

  const temporal = TEMPORAL[column.typeName];
  if (temporal) {
    // DuckDB's CSV reader turns a TIMESTAMPTZ it cannot parse into NULL without an error (1.5): timestamptz is read as
    // text and cast, which fails loudly
    const viaText = temporal === 'TIMESTAMPTZ';
    return {
      ...base,
      destinationType: temporal,
      csvType: viaText ? 'VARCHAR' : temporal,
      castSql: viaText ? `CAST(${d} AS TIMESTAMPTZ)` : d,
      // DuckDB parses '0044-03-15 BC' as year 44 AD and refuses years past 294246: such values are sent with a marker
      // DuckDB refuses to cast, and the loader keeps the column as exact text
      guard: 'text_fallback',
      selectSql: `CASE WHEN ${outOfRange(q, column.typeName)} THEN '${OUT_OF_RANGE_MARKER}' || ${q}::text ELSE ${q}::text END`,
    };
  }
  if (column.typeName === 'numeric') {
    const p = column.numericPrecision;
    const s = column.numericScale;
    if (p !== undefined && s !== undefined && p <= 38 && s >= 0 && s <= p) {
      const t = `DECIMAL(${p},${s})`;
      // NaN fits no DECIMAL: DuckDB refuses it and the loader keeps the column as exact text. Wider than 18 digits,
      // DuckDB's own text → DECIMAL parser is ≈ 100 × slower than a 128-bit integer cast: read as text and cast so
      if (p > 18) return { ...base, destinationType: t, csvType: 'VARCHAR', castSql: declaredWideDecimalCast(destinationName, p, s), guard: 'text_fallback' };
      return { ...base, destinationType: t, csvType: t, guard: 'text_fallback' };
    }
    if (p === undefined) {
      return { ...base, destinationType: UNCONSTRAINED_NUMERIC, csvType: 'VARCHAR', castSql: `CAST(${d} AS ${UNCONSTRAINED_NUMERIC})`, guard: 'unconstrained_numeric' };
    }
    // wider than DuckDB's DECIMAL(38): kept as its exact text
    return { ...base, destinationType: 'VARCHAR', csvType: 'VARCHAR' };
  }
  if (column.typeName === 'interval') {
    // PostgreSQL and DuckDB both keep months, days and microseconds apart: carried as "months,days,microseconds"
    const micros = `(extract(hour from ${q}) * 3600000000 + extract(minute from ${q}) * 60000000 + extract(microseconds from ${q}))::bigint`;
    const part = (i: number, type: string) => `CAST(split_part(${d}, ',', ${i}) AS ${type})`;
    return {
      ...base,
      destinationType: 'INTERVAL',
      csvType: 'VARCHAR',
      selectSql: `CASE WHEN ${q} IS NULL THEN NULL ELSE (extract(year from ${q}) * 12 + extract(month from ${q}))::bigint || ',' || extract(day from ${q})::bigint || ',' || ${micros} END`,
      castSql: `to_months(${part(1, 'INTEGER')}) + to_days(${part(2, 'INTEGER')}) + to_microseconds(${part(3, 'BIGINT')})`,
    };
  }
  if (column.typeName === 'money') {
    return { ...base, destinationType: 'DECIMAL(19,2)', csvType: 'DECIMAL(19,2)', selectSql: `${q}::numeric` };
  }
  if (column.typeName === 'bytea') {
    // hex, not base64: PostgreSQL's base64 wraps lines every 76 characters, which DuckDB's from_base64 refuses
    return { ...base, destinationType: 'BLOB', csvType: 'VARCHAR', selectSql: `encode(${q}, 'hex')`, castSql: `unhex(${d})` };
  }
  if (column.typeCategory === 'A' && column.elementTypeName) {
    const element = SIMPLE[column.elementTypeName] ?? TEMPORAL[column.elementTypeName];
    if (element && element !== 'JSON' && element !== 'TIMETZ' && (column.dimensions ?? 1) <= 1) {
      // arrays travel as JSON ([1,null,3]) and DuckDB casts the JSON to a typed list
      const t = `${element}[]`;
      const json = `to_json(${q})::text`;
      // as for scalar dates: a BC element would be read as AD, so the whole value is marked and the cast fails loudly
      const selectSql = TEMPORAL[column.elementTypeName]
        ? `CASE WHEN EXISTS (SELECT 1 FROM unnest(${q}) AS e(v) WHERE ${outOfRange('e.v', column.elementTypeName)}) THEN '${OUT_OF_RANGE_MARKER}' || ${q}::text ELSE ${json} END`
        : json;
      return { ...base, destinationType: t, csvType: 'VARCHAR', selectSql, castSql: `CAST(CAST(${d} AS JSON) AS ${t})` };
    }
    // multi-dimensional arrays and arrays of other types: kept as JSON (nested arrays, NULLs included)
    return { ...base, destinationType: 'JSON', csvType: 'JSON', selectSql: `to_json(${q})::text` };
  }
  // enums, inet/cidr/macaddr, ranges, geometric, tsvector, xml, bit: PostgreSQL's own exact text
  return { ...base, destinationType: 'VARCHAR', csvType: 'VARCHAR', selectSql: `${q}::text` };
}

/**
 * Destination column names: the source names, except where the destination compares names without case and two
 * source columns would collide ("Name" and "name"): the later one (by position) gets a suffix __2, __3, …
 * With `lowerCase` (Athena) every name is lower-cased first. The result is stored with the schema.
 */
export function destinationNames(sourceNames: readonly string[], rule: { readonly caseSensitive: boolean; readonly lowerCase: boolean }): string[] {
  const taken = new Set<string>();
  const key = (n: string) => (rule.caseSensitive ? n : n.toLowerCase());
  return sourceNames.map((source) => {
    const base = rule.lowerCase ? source.toLowerCase() : source;
    let candidate = base;
    for (let i = 2; taken.has(key(candidate)); i += 1) candidate = `${base}__${i}`;
    taken.add(key(candidate));
    return candidate;
  });
}
