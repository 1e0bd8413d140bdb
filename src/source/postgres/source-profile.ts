import type pg from 'pg';
import { qualified, quoteIdent, quoteLiteral } from '../../sql/quote.js';

/** Rows in a source table, inside the caller's snapshot. */
export async function countRows(client: pg.Client, schema: string, table: string): Promise<number> {
  const result = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${qualified(schema, table)}`);
  return Number(result.rows[0]?.n ?? 0);
}

/**
 * Rows whose change column is newer than `since`: an incremental cursor (in the column's own type), or the source
 * snapshot time of the last load (timestamptz text, read in `timezone` for a naive timestamp or a date).
 * undefined when the column's type cannot be compared that way.
 */
export async function countChangedSince(
  client: pg.Client,
  schema: string,
  table: string,
  column: string,
  columnType: string,
  since: { readonly cursor: string } | { readonly snapshotAt: string; readonly timezone: string },
): Promise<number | undefined> {
  const c = quoteIdent(column);
  let predicate: string;
  if ('cursor' in since) {
    predicate = `${c} > ${quoteLiteral(since.cursor)}::${columnType}`;
  } else {
    const instant = `${quoteLiteral(since.snapshotAt)}::timestamptz`;
    const local = `(${instant} AT TIME ZONE ${quoteLiteral(since.timezone)})`;
    if (columnType === 'timestamp with time zone') predicate = `${c} > ${instant}`;
    else if (columnType.startsWith('timestamp')) predicate = `${c} > ${local}`;
    else if (columnType === 'date') predicate = `${c} >= ${local}::date`;
    else return undefined;
  }
  const result = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${qualified(schema, table)} WHERE ${predicate}`);
  return Number(result.rows[0]?.n ?? 0);
}
