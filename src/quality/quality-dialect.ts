import { quoteIdent, quoteLiteral } from '../sql/quote.js';

/** The kind of time a freshness column holds, read from its destination type. */
export type TimeKind = 'timestamptz' | 'timestamp' | 'date';

/**
 * The few SQL spellings in which destinations differ; every check is written once against this interface
 * (DuckDB here; Athena/Trino renders the same checks with its own spellings: destination/athena/athena-quality-dialect.ts).
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
