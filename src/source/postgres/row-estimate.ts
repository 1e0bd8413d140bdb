import type pg from 'pg';

/**
 * PostgreSQL's own estimate of a table's rows: pg_class.reltuples (kept by VACUUM / ANALYZE / CREATE INDEX), summed
 * over its partitions and inheritance children. Free: no scan. null when unknown (a relation never analyzed has -1;
 * 0 says nothing either), so progress then shows rows and rate without a percentage.
 */
const TABLE_ESTIMATE_SQL = `
WITH RECURSIVE parts AS (
  SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2
  UNION ALL
  SELECT i.inhrelid FROM pg_inherits i JOIN parts p ON i.inhparent = p.oid
)
SELECT round(sum(c.reltuples))::text AS estimate, coalesce(bool_or(c.reltuples < 0), true)::text AS unknown
FROM parts p JOIN pg_class c ON c.oid = p.oid WHERE c.relkind <> 'p'`;

export async function estimateTableRows(client: pg.Client, schema: string, table: string): Promise<number | null> {
  // the source connection returns every value as text (postgres-connection.ts)
  const row = (await client.query<{ estimate: string | null; unknown: string }>(TABLE_ESTIMATE_SQL, [schema, table])).rows[0];
  const estimate = Number(row?.estimate ?? 0);
  return row?.unknown === 'false' && estimate > 0 ? estimate : null;
}

/**
 * The planner's estimate of the rows a SELECT returns (EXPLAIN plans it, nothing is executed): the rows of an
 * incremental read's window. Only asked when the table has statistics (estimateTableRows is not null); without them
 * the planner guesses from the table's size, which says nothing.
 */
export async function estimateSelectRows(client: pg.Client, select: string): Promise<number | null> {
  const result = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN (FORMAT JSON) ${select}`);
  const text = result.rows[0]?.['QUERY PLAN'];
  const rows = text ? (JSON.parse(text) as [{ Plan?: { 'Plan Rows'?: unknown } }])[0]?.Plan?.['Plan Rows'] : undefined;
  return typeof rows === 'number' && rows > 0 ? Math.round(rows) : null;
}
