import type pg from 'pg';
import { qualified, quoteIdent, quoteLiteral } from '../../sql/quote.js';

/** Rows in a source table, inside the caller's snapshot. */
export async function countRows(client: pg.Client, schema: string, table: string): Promise<number> {
  const result = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${qualified(schema, table)}`);
  return Number(result.rows[0]?.n ?? 0);
}

/**
 * Rows in a source table and, in the same scan, rows whose change column is newer than `since`: an incremental
 * cursor (in the column's own type), or the source snapshot time of the last load (timestamptz text, read in
 * `timezone` for a naive timestamp or a date). `changed` is undefined when no comparison applies.
 */
export async function countRowsAndChanged(
  client: pg.Client,
  schema: string,
  table: string,
  change:
    | { readonly column: string; readonly columnType: string; readonly since: { readonly cursor: string } | { readonly snapshotAt: string; readonly timezone: string } }
    | undefined,
): Promise<{ rows: number; changed: number | undefined }> {
  const predicate = change ? changedPredicate(change.column, change.columnType, change.since) : undefined;
  const result = await client.query<{ n: string; changed: string | null }>(
    `SELECT count(*)::text AS n, ${predicate ? `count(*) FILTER (WHERE ${predicate})::text` : 'NULL'} AS changed FROM ${qualified(schema, table)}`,
  );
  const row = result.rows[0];
  return { rows: Number(row?.n ?? 0), changed: row?.changed == null ? undefined : Number(row.changed) };
}

function changedPredicate(
  column: string,
  columnType: string,
  since: { readonly cursor: string } | { readonly snapshotAt: string; readonly timezone: string },
): string | undefined {
  const c = quoteIdent(column);
  if ('cursor' in since) return `${c} > ${quoteLiteral(since.cursor)}::${columnType}`;
  const instant = `${quoteLiteral(since.snapshotAt)}::timestamptz`;
  const local = `(${instant} AT TIME ZONE ${quoteLiteral(since.timezone)})`;
  if (columnType === 'timestamp with time zone') return `${c} > ${instant}`;
  if (columnType.startsWith('timestamp')) return `${c} > ${local}`;
  if (columnType === 'date') return `${c} >= ${local}::date`;
  return undefined;
}
