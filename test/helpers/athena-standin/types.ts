/**
 * Glue/Hive column types as Athena reads them: validation (what Glue and Athena refuse), the DuckDB type the
 * stand-in stores or reads them as, and the Trino type name Athena reports.
 */
export type TableKind = 'parquet' | 'iceberg';

const SCALAR = /^(boolean|tinyint|smallint|int|integer|bigint|float|real|double|date|timestamp|string|varchar(\(\d+\))?|char\(\d+\)|binary|decimal\((\d+),\s*(\d+)\))$/;

/** Why Athena/Glue refuse `type` for a column of a `kind` table, or undefined when it is accepted. */
export function typeProblem(type: string, kind: TableKind): string | undefined {
  const t = type.trim().toLowerCase();
  const array = /^array<(.+)>$/.exec(t);
  if (array) return typeProblem(array[1]!, kind);
  const m = SCALAR.exec(t);
  if (!m) return `unsupported type '${type}'`;
  if (m[3] !== undefined) {
    const p = Number(m[3]);
    const s = Number(m[4]);
    if (p < 1 || p > 38) return `decimal precision must be between 1 and 38 (got ${p})`;
    if (s > p) return `decimal scale ${s} is greater than its precision ${p}`;
  }
  if (kind === 'iceberg' && /^(tinyint|smallint|char\(\d+\)|varchar\(\d+\))$/.test(t)) {
    return `Iceberg tables do not support the type ${t} (use int or string)`;
  }
  return undefined;
}

/** The DuckDB type a column is held (Iceberg) or read (Parquet: timestamps at millisecond precision) as. */
export function duckType(type: string, kind: TableKind): string {
  const t = type.trim().toLowerCase();
  const array = /^array<(.+)>$/.exec(t);
  if (array) return `${duckType(array[1]!, kind)}[]`;
  if (t === 'timestamp') return kind === 'iceberg' ? 'TIMESTAMP' : 'TIMESTAMP_MS';
  if (t === 'string' || t.startsWith('varchar') || t.startsWith('char')) return 'VARCHAR';
  if (t === 'binary') return 'BLOB';
  if (t === 'int') return 'INTEGER';
  return t.toUpperCase();
}

/** Athena's (Trino's) name of a DuckDB result type, as GetQueryResults' ColumnInfo.Type reports it. */
export function trinoTypeName(duck: string): string {
  const t = duck.toUpperCase();
  if (t.endsWith('[]')) return 'array';
  if (t.startsWith('DECIMAL')) return 'decimal';
  const names: Record<string, string> = {
    BOOLEAN: 'boolean', TINYINT: 'tinyint', SMALLINT: 'smallint', INTEGER: 'integer', BIGINT: 'bigint', HUGEINT: 'decimal', FLOAT: 'real',
    DOUBLE: 'double', DATE: 'date', TIMESTAMP: 'timestamp', TIMESTAMP_MS: 'timestamp', 'TIMESTAMP WITH TIME ZONE': 'timestamp with time zone',
    VARCHAR: 'varchar', BLOB: 'varbinary',
  };
  return names[t] ?? 'varchar';
}

/** Whether a Glue/Hive column type is a character type (compares with string literals in Trino). */
export function isTextType(type: string): boolean {
  const t = type.trim().toLowerCase();
  return t === 'string' || t.startsWith('varchar') || t.startsWith('char');
}
