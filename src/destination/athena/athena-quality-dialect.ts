import { duckdbDialect, type QualityDialect } from '../../quality/quality-dialect.js';
import { quoteIdent, quoteLiteral } from '../../sql/quote.js';
import { athenaColumnType } from './athena-type-map.js';

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
