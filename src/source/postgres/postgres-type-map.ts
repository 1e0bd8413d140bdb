import { quoteIdent } from '../../sql/quote.js';

/** A source column as the introspector reads it from pg_catalog. */
export interface SourceColumn {
  readonly name: string;
  /** format_type() of the column, e.g. `numeric(10,2)`, `timestamp with time zone`. */
  readonly formatType: string;
  /** Base type name (domains resolved), e.g. `numeric`, `timestamptz`, `_int4` for arrays. */
  readonly typeName: string;
  /** pg_type.typcategory of the base type: A array, E enum, N numeric, … */
  readonly typeCategory: string;
  /** Element type name for arrays (e.g. `int4`), else undefined. */
  readonly elementTypeName: string | undefined;
  readonly numericPrecision: number | undefined;
  readonly numericScale: number | undefined;
  readonly notNull: boolean;
}

/**
 * How one column travels: the SQL expression PostgreSQL puts into COPY, the type DuckDB's CSV reader parses it
 * as, and the expression that turns that into the destination type. Values stay text until DuckDB casts them.
 */
export interface ColumnMapping {
  readonly name: string;
  readonly sourceType: string;
  /** Destination (DuckDB) type, declared, never sniffed. */
  readonly destinationType: string;
  /** Expression in the COPY SELECT (the source's text form unless a lossless rewrite is needed). */
  readonly selectSql: string;
  /** Type read_csv parses the field as. */
  readonly csvType: string;
  /** DuckDB expression from the CSV column (quoted name) to destinationType. */
  readonly castSql: string;
  /** A check the loader runs on staged text before casting, so nothing is rounded quietly. */
  readonly guard: 'unconstrained_numeric' | undefined;
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

/** Temporal types whose BC values DuckDB would silently read as AD: they are marked so the cast fails loudly. */
const TEMPORAL: Readonly<Record<string, string>> = { date: 'DATE', timestamp: 'TIMESTAMP', timestamptz: 'TIMESTAMPTZ' };

/** Maps one PostgreSQL column to its DuckDB column and the text path between them. */
export function mapColumn(column: SourceColumn): ColumnMapping {
  const q = quoteIdent(column.name);
  const base = { name: column.name, sourceType: column.formatType, selectSql: q, castSql: q, guard: undefined } as const;
  const simple = SIMPLE[column.typeName];
  if (simple) return { ...base, destinationType: simple, csvType: simple };

  const temporal = TEMPORAL[column.typeName];
  if (temporal) {
    return {
      ...base,
      destinationType: temporal,
      csvType: temporal,
      // DuckDB parses '0044-03-15 BC' as year 44 AD: send BC values with a marker DuckDB refuses to cast
      selectSql: `CASE WHEN ${q} < '0001-01-01' AND isfinite(${q}) THEN 'BC date not representable: ' || ${q}::text ELSE ${q}::text END`,
    };
  }
  if (column.typeName === 'numeric') {
    const p = column.numericPrecision;
    const s = column.numericScale;
    if (p !== undefined && s !== undefined && p <= 38 && s >= 0 && s <= p) {
      const t = `DECIMAL(${p},${s})`;
      return { ...base, destinationType: t, csvType: t };
    }
    if (p === undefined) {
      return { ...base, destinationType: UNCONSTRAINED_NUMERIC, csvType: 'VARCHAR', castSql: `CAST(${q} AS ${UNCONSTRAINED_NUMERIC})`, guard: 'unconstrained_numeric' };
    }
    // wider than DuckDB's DECIMAL(38): kept as its exact text
    return { ...base, destinationType: 'VARCHAR', csvType: 'VARCHAR' };
  }
  if (column.typeName === 'money') {
    return { ...base, destinationType: 'DECIMAL(19,2)', csvType: 'DECIMAL(19,2)', selectSql: `${q}::numeric` };
  }
  if (column.typeName === 'bytea') {
    return { ...base, destinationType: 'BLOB', csvType: 'VARCHAR', selectSql: `encode(${q}, 'base64')`, castSql: `from_base64(${q})` };
  }
  if (column.typeCategory === 'A' && column.elementTypeName) {
    const element = SIMPLE[column.elementTypeName] ?? TEMPORAL[column.elementTypeName];
    if (element && element !== 'JSON' && element !== 'TIMETZ') {
      // arrays travel as JSON ([1,null,3]) and DuckDB casts the JSON to a typed list
      const t = `${element}[]`;
      const json = `to_json(${q})::text`;
      // as for scalar dates: a BC element would be read as AD, so the whole value is marked and the cast fails loudly
      const selectSql = TEMPORAL[column.elementTypeName]
        ? `CASE WHEN EXISTS (SELECT 1 FROM unnest(${q}) AS e(v) WHERE e.v < '0001-01-01' AND isfinite(e.v)) THEN 'BC date not representable: ' || ${q}::text ELSE ${json} END`
        : json;
      return { ...base, destinationType: t, csvType: 'VARCHAR', selectSql, castSql: `CAST(CAST(${q} AS JSON) AS ${t})` };
    }
    return { ...base, destinationType: 'JSON', csvType: 'JSON', selectSql: `to_json(${q})::text` };
  }
  // enums, inet/cidr/macaddr, intervals, ranges, geometric, tsvector, xml, bit: PostgreSQL's own exact text
  return { ...base, destinationType: 'VARCHAR', csvType: 'VARCHAR', selectSql: `${q}::text` };
}
