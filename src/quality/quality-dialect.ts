import { athenaColumnType } from '../destination/athena/athena-type-map.js';
import { quoteIdent, quoteLiteral } from '../sql/quote.js';

/** The kind of time a freshness column holds, read from its destination type. */
export type TimeKind = 'timestamptz' | 'timestamp' | 'date';

/**
 * The few SQL spellings in which destinations differ; every check is written once against this interface
 * (DuckDB here; Athena/Trino renders the same checks with its own spellings).
 */
export interface QualityDialect {
  /** A destination table, fully qualified and quoted. */
  table(name: string): string;
  ident(name: string): string;
  /**
   * A literal to compare with a column of destination type `columnType` (ingesta's DuckDB spelling, from state), typed
   * as that column where the engine needs it: Trino refuses `date_col < '2020-01-01'` (a type mismatch), so Athena
   * gets `DATE '2020-01-01'`; without a type, the value's own kind.
   */
  literal(value: string | number | boolean, columnType?: string): string;
  /** An expression as text. */
  text(expr: string): string;
  /** Aggregate: the values of a text expression joined with '; '. */
  joinText(expr: string): string;
  /** Seconds from `expr` (a time value) to now; a naive timestamp or date is read as wall time in `timezone`. */
  ageSeconds(expr: string, kind: TimeKind, timezone: string): string;
  /** Reads a destination type name as a time kind, or undefined for any other type. */
  timeKind(type: string): TimeKind | undefined;
}

export function duckdbDialect(tableRef: (name: string) => string): QualityDialect {
  return {
    table: tableRef,
    ident: quoteIdent,
    // a text column compares with text: the catalog's `accepted_values: [1, 2]` or `max: 5` on a VARCHAR column would
    // otherwise make DuckDB cast every value to a number (a Conversion Error on 'x'; '01' equal to 1), unlike Athena
    literal: (v, columnType) =>
      typeof v === 'string' || (columnType !== undefined && /^VARCHAR\b/i.test(columnType))
        ? quoteLiteral(String(v))
        : typeof v === 'boolean' ? (v ? 'TRUE' : 'FALSE') : String(v),
    text: (e) => `CAST(${e} AS VARCHAR)`,
    joinText: (e) => `string_agg(${e}, '; ')`,
    ageSeconds: (e, kind, tz) => {
      const instant = kind === 'timestamptz' ? e : `timezone(${quoteLiteral(tz)}, CAST(${e} AS TIMESTAMP))`;
      return `(epoch(now()) - epoch(${instant}))`;
    },
    timeKind: (type) => {
      const t = type.toUpperCase();
      if (t === 'TIMESTAMP WITH TIME ZONE' || t === 'TIMESTAMPTZ') return 'timestamptz';
      if (t.startsWith('TIMESTAMP')) return 'timestamp';
      if (t === 'DATE') return 'date';
      return undefined;
    },
  };
}

/**
 * Athena (Trino) spellings. Timestamps that were timestamptz in the source are stored as UTC timestamps, so every
 * timestamp kind is turned into an instant with with_timezone (UTC for those, the table's zone for naive ones).
 */
export function athenaDialect(tableRef: (name: string) => string): QualityDialect {
  return {
    table: tableRef,
    ident: quoteIdent,
    literal: (v, columnType) => {
      const plain = typeof v === 'string' ? quoteLiteral(v) : typeof v === 'boolean' ? (v ? 'TRUE' : 'FALSE') : String(v);
      const type = columnType === undefined ? undefined : trinoScalarType(athenaColumnType('c', columnType).athenaType);
      if (type === undefined) return plain;
      if (type === 'varchar') return quoteLiteral(String(v));
      if (typeof v !== 'string') return type === 'date' || type.startsWith('timestamp') ? `CAST(${quoteLiteral(String(v))} AS ${type})` : plain;
      return type === 'date' ? `DATE ${plain}` : `CAST(${plain} AS ${type})`;
    },
    text: (e) => `CAST(${e} AS VARCHAR)`,
    joinText: (e) => `array_join(array_agg(${e}), '; ')`,
    ageSeconds: (e, kind, tz) => {
      const zone = kind === 'timestamptz' ? 'UTC' : tz;
      return `(to_unixtime(current_timestamp) - to_unixtime(with_timezone(CAST(${e} AS TIMESTAMP), ${quoteLiteral(zone)})))`;
    },
    // the gate reads column types from ingesta's state (DuckDB spellings), as for DuckDB
    timeKind: duckdbDialect(tableRef).timeKind,
  };
}

/** The Trino type of a scalar Glue column type, for typed literals (undefined for arrays, binary and the unknown). */
function trinoScalarType(glueType: string): string | undefined {
  if (glueType === 'string') return 'varchar';
  if (glueType === 'int') return 'integer';
  if (glueType === 'float') return 'real';
  if (/^(boolean|tinyint|smallint|bigint|double|date|timestamp|decimal\(\d+,\d+\))$/.test(glueType)) return glueType;
  return undefined;
}
