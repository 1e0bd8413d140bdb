import { expect } from 'vitest';
import type { TestDatabase } from './postgres.js';

/** A Glue table as the comparison needs it: Iceberg (merge) or Parquet (full), and its columns with Glue types. */
export interface ReadableTable {
  readonly kind: 'iceberg' | 'parquet';
  readonly columns: readonly { name: string; type: string }[];
}

/**
 * What the comparison reads: the Glue tables by `<dataset>.<table>` and Athena's rows as text. The loopback
 * Lakehouse (test/helpers/lakehouse.ts) is one; the live check against real AWS (test/live/live-athena.ts) another.
 */
export interface AthenaReader {
  readonly aws: { readonly tables: { get(key: string): ReadableTable | undefined } };
  athenaQuery(sql: string): Promise<Record<string, string | null>[]>;
}

/** Strips a decimal's trailing zeros ('1.50' → '1.5', '2.00' → '2'): the value, whatever the scale it is typed with. */
export const decimalValue = (v: string | null) => (v === null || !v.includes('.') ? v : v.replace(/\.?0+$/, ''));

/**
 * The source table's rows as an Athena reader of the loaded table must see them, as text: timestamps at microsecond
 * precision for an Iceberg (merge) table and rounded to milliseconds for a Parquet (full) table (Athena reads those
 * at millisecond precision), timestamptz in UTC, numerics by value (trailing zeros dropped on both sides).
 */
export async function sourceAsAthenaSees(db: TestDatabase, table: string, columns: string[], kind: 'iceberg' | 'parquet', key: string, where = 'true', schema = 'public'): Promise<Record<string, string | null>[]> {
  const types = new Map(
    (await db.query(`SELECT column_name AS c, data_type AS t FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`, [schema, table])).map((r) => [r.c!, r.t!]),
  );
  const exprs = columns.map((c) => {
    const t = types.get(c) ?? '';
    const q = `"${c}"`;
    const ts = t === 'timestamp with time zone' ? `(${q} AT TIME ZONE 'UTC')` : q;
    if (t.startsWith('timestamp')) {
      return kind === 'iceberg' ? `to_char(${ts}, 'YYYY-MM-DD HH24:MI:SS.US') AS ${q}` : `to_char(CAST(${ts} AS timestamp(3)), 'YYYY-MM-DD HH24:MI:SS.MS') AS ${q}`;
    }
    if (t === 'numeric') return `trim_scale(${q})::text AS ${q}`;
    return `${q}::text AS ${q}`;
  });
  // ordered by the source column (qualified), not by its text alias
  return db.query(`SELECT ${exprs.join(', ')} FROM "${schema}"."${table}" AS src WHERE ${where} ORDER BY src."${key}"`);
}

/**
 * Reads `dataset.table` through Athena (the stand-in executes it; real Athena in the live check) and expects it to
 * equal the source table value by value. Returns the number of rows compared.
 */
export async function expectAthenaEqualsSource(lake: AthenaReader, db: TestDatabase, dataset: string, table: string, key: string, label = table): Promise<number> {
  const glue = lake.aws.tables.get(`${dataset}.${table}`);
  expect(glue, `${label}: a Glue table ${dataset}.${table}`).toBeDefined();
  const columns = glue!.columns.map((c) => c.name);
  const decimals = new Set(glue!.columns.filter((c) => c.type.startsWith('decimal')).map((c) => c.name));
  const athena = (await lake.athenaQuery(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM "${dataset}"."${table}" ORDER BY "${key}"`)).map((r) =>
    Object.fromEntries(Object.entries(r).map(([c, v]) => [c, decimals.has(c) ? decimalValue(v) : v])),
  );
  const source = await sourceAsAthenaSees(db, table, columns, glue!.kind, key);
  expect(athena.length, `${label}: row count`).toBe(source.length);
  const differs = athena.findIndex((row, i) => JSON.stringify(row) !== JSON.stringify(source[i]));
  if (differs >= 0) expect({ row: athena[differs] }, `${label}: row ${differs} (ordered by ${key}) read through Athena`).toEqual({ row: source[differs] });
  return athena.length;
}
