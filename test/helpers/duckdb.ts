import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { expect } from 'vitest';
import type { TestDatabase } from './postgres.js';

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** "db"."dataset"."table": DuckDB names the database after the file, so a dataset named alike needs three parts. */
export function duckTable(file: string, dataset: string, table: string): string {
  return `${q(path.basename(file).replace(/\.[^.]*$/, ''))}.${q(dataset)}.${q(table)}`;
}

/** Runs one query on a DuckDB file (opened read-only, closed afterwards, so the CLI can take its lock again). */
export async function duckQuery(file: string, sql: string): Promise<Record<string, unknown>[]> {
  return (await duckQueries(file, [sql]))[0]!;
}

/** Runs several queries on one read-only open of a DuckDB file (an open costs more than a small query). */
export async function duckQueries(file: string, sqls: readonly string[]): Promise<Record<string, unknown>[][]> {
  return withDuckDb(file, async (query) => {
    const out: Record<string, unknown>[][] = [];
    for (const sql of sqls) out.push(await query(sql));
    return out;
  });
}

/** Opens a DuckDB file read-only for `use`, which may run queries that depend on each other; closed afterwards. */
export async function withDuckDb<T>(file: string, use: (query: (sql: string) => Promise<Record<string, unknown>[]>) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    try {
      await connection.run("SET TimeZone = 'UTC'");
      return await use(async (sql) => (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[]);
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** Column name → DuckDB type of a destination table. */
export async function duckColumnTypes(file: string, dataset: string, table: string): Promise<Record<string, string>> {
  const rows = await duckQuery(
    file,
    `SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = '${path.basename(file).replace(/\.[^.]*$/, '')}' AND schema_name = '${dataset}' AND table_name = '${table}' ORDER BY column_index`,
  );
  return Object.fromEntries(rows.map((r) => [String(r.column_name), String(r.data_type)]));
}

/** '9.500000000' and '9.5' are the same number: compare decimals without trailing zeros. */
function normalize(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const text = String(value);
  if (/^-?\d+\.\d+$/.test(text)) return text.replace(/0+$/, '').replace(/\.$/, '');
  return text;
}

/**
 * Asserts a destination table equals the source table value for value: same rows (by primary key order), every
 * column compared as text (PostgreSQL's text vs DuckDB's VARCHAR, both in UTC), microseconds included.
 */
export async function expectTableEqualsSource(db: TestDatabase, file: string, dataset: string, table: string, orderBy: string[]): Promise<number> {
  return expectTablesEqualSource(db, file, dataset, [[table, orderBy]]);
}

/**
 * expectTableEqualsSource for several tables, reading the destination in one open of the DuckDB file; returns the
 * number of rows compared in all.
 */
export async function expectTablesEqualSource(
  db: TestDatabase,
  file: string,
  dataset: string,
  tables: readonly (readonly [table: string, orderBy: readonly string[]])[],
): Promise<number> {
  const reads: { table: string; columns: string[]; source: Record<string, string | null>[]; sql: string }[] = [];
  for (const [table, orderBy] of tables) {
    const columns = (
      await db.query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
        [table],
      )
    ).map((r) => r.column_name);
    const order = orderBy.map(q).join(', ');
    const source = await db.query(`SELECT ${columns.map((c) => `${q(c)}::text AS ${q(c)}`).join(', ')} FROM public.${q(table)} ORDER BY ${order}`);
    const sql = `SELECT ${columns.map((c) => `${q(c)}::VARCHAR AS ${q(c)}`).join(', ')} FROM ${duckTable(file, dataset, table)} ORDER BY ${order}`;
    reads.push({ table, columns, source, sql });
  }
  const dests = await duckQueries(file, reads.map((r) => r.sql));
  let compared = 0;
  for (const [k, { table, columns, source }] of reads.entries()) {
    const dest = dests[k]!;
    expect(dest.length, `row count of ${table}`).toBe(source.length);
    for (let i = 0; i < source.length; i += 1) {
      const s = Object.fromEntries(columns.map((c) => [c, normalize(source[i]![c])]));
      const d = Object.fromEntries(columns.map((c) => [c, normalize(dest[i]![c])]));
      if (JSON.stringify(s) !== JSON.stringify(d)) expect(d, `${table} row ${i}`).toEqual(s);
    }
    compared += source.length;
  }
  return compared;
}

/** A digest of a destination table's whole content, to prove a failed or killed run changed nothing. */
export async function duckTableDigest(file: string, dataset: string, table: string, orderBy: string): Promise<string> {
  const rows = await duckQuery(file, `SELECT count(*) AS n, md5(coalesce(string_agg(CAST(t AS VARCHAR), chr(10) ORDER BY ${q(orderBy)}), '')) AS d FROM ${duckTable(file, dataset, table)} t`);
  return `${String(rows[0]!.n)}:${String(rows[0]!.d)}`;
}
