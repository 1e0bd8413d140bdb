import { quoteIdent } from '../../sql/quote.js';

/**
 * DuckDB column type (as the loader declares it) → what goes into the Parquet file and what Glue/Athena declare.
 * Athena has no time, time zone, UUID, JSON or interval types: those are written as their exact text (string).
 * timestamptz is written as a UTC timestamp (microseconds); Athena reads it as `timestamp`, in UTC.
 * Iceberg tables take no tinyint/smallint (Athena refuses them there): such columns are written and declared as int.
 */
export interface AthenaColumnType {
  /** DuckDB expression over the column for the Parquet file. */
  readonly parquetSql: string;
  /** Glue/Athena column type. */
  readonly athenaType: string;
}

const SCALARS: Readonly<Record<string, string>> = {
  BOOLEAN: 'boolean',
  TINYINT: 'tinyint',
  SMALLINT: 'smallint',
  INTEGER: 'int',
  BIGINT: 'bigint',
  FLOAT: 'float',
  DOUBLE: 'double',
  DATE: 'date',
  TIMESTAMP: 'timestamp',
  VARCHAR: 'string',
  BLOB: 'binary',
};

function scalar(type: string): string | undefined {
  const t = type.toUpperCase();
  if (SCALARS[t]) return SCALARS[t];
  const dec = /^DECIMAL\((\d+),(\d+)\)$/.exec(t);
  if (dec) return `decimal(${dec[1]},${dec[2]})`;
  if (t === 'TIMESTAMP WITH TIME ZONE' || t === 'TIMESTAMPTZ') return 'timestamp';
  return undefined;
}

/** Where the column lives: a Hive Parquet table (full loads, staging) or an Iceberg table (incremental loads). */
export type AthenaTableFormat = 'parquet' | 'iceberg';

/** Iceberg has no 8/16-bit integers (Athena refuses tinyint/smallint in an Iceberg table): they widen to int. */
const ICEBERG_NARROW_INTS: ReadonlySet<string> = new Set(['TINYINT', 'SMALLINT']);

export function athenaColumnType(name: string, duckType: string, format: AthenaTableFormat = 'parquet'): AthenaColumnType {
  const q = quoteIdent(name);
  const t = duckType.toUpperCase();
  if (format === 'iceberg') {
    if (ICEBERG_NARROW_INTS.has(t)) return { parquetSql: `CAST(${q} AS INTEGER)`, athenaType: 'int' };
    const narrowList = /^(TINYINT|SMALLINT)\[\]$/.exec(t);
    if (narrowList) return { parquetSql: `CAST(${q} AS INTEGER[])`, athenaType: 'array<int>' };
  }
  if (t === 'TIMESTAMP WITH TIME ZONE' || t === 'TIMESTAMPTZ') return { parquetSql: `timezone('UTC', ${q})`, athenaType: 'timestamp' };
  if (t === 'UBIGINT') return { parquetSql: `CAST(${q} AS DECIMAL(20,0))`, athenaType: 'decimal(20,0)' };
  const s = scalar(t);
  if (s) return { parquetSql: q, athenaType: s };
  const list = /^(.*)\[\]$/.exec(t);
  if (list) {
    const element = list[1]!;
    const es = element === 'TIMESTAMP WITH TIME ZONE' || element === 'TIMESTAMPTZ' ? undefined : scalar(element);
    if (es) return { parquetSql: q, athenaType: `array<${es}>` };
    return { parquetSql: `CAST(${q} AS VARCHAR[])`, athenaType: 'array<string>' };
  }
  // TIME, TIMETZ, UUID, JSON, INTERVAL, HUGEINT, …: exact text
  return { parquetSql: `CAST(${q} AS VARCHAR)`, athenaType: 'string' };
}
