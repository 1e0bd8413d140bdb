import type pg from 'pg';
import { qualified, quoteIdent, quoteLiteral } from '../../sql/quote.js';

const TEMPORAL_CURSOR = /^(timestamp|date)/;
/** Cursor types that hold NaN and Infinity, which sort above every number in PostgreSQL. */
const NON_FINITE_CURSOR = /^(numeric|real|double precision)/;

/** Whether a stored cursor is NaN or +Infinity: no later change can sort above it, so reads after it see nothing new. */
export function isStuckCursor(value: string): boolean {
  return /^(NaN|\+?Infinity)$/i.test(value);
}

/** The SELECT that COPY streams: the mapped columns, optionally filtered by the incremental lower bound. */
export function extractSelect(schema: string, table: string, columns: readonly { readonly name: string; readonly selectSql: string }[], where: string | undefined): string {
  const list = columns.map((c) => (c.selectSql === quoteIdent(c.name) ? c.selectSql : `${c.selectSql} AS ${quoteIdent(c.name)}`)).join(', ');
  return `SELECT ${list} FROM ${qualified(schema, table)}${where ? ` WHERE ${where}` : ''}`;
}

/**
 * Incremental filter: rows at or after the lower bound (so rows sharing the last cursor value are re-read, and
 * merged, never lost), plus rows whose cursor is NULL (they cannot be ordered, so they are always re-read).
 */
export function incrementalWhere(cursorColumn: string, cursorType: string, lowerBound: string): string {
  const c = quoteIdent(cursorColumn);
  return `(${c} >= ${quoteLiteral(lowerBound)}::${cursorType} OR ${c} IS NULL)`;
}

/**
 * previous cursor − lag, computed by PostgreSQL in the cursor's own type (temporal cursors only; a numeric cursor
 * re-reads from its last value).
 */
export async function lowerBound(client: pg.Client, cursorType: string, previous: string, lagSeconds: number): Promise<string> {
  if (!TEMPORAL_CURSOR.test(cursorType) || lagSeconds === 0) return previous;
  const result = await client.query<{ v: string }>(
    `SELECT (${quoteLiteral(previous)}::${cursorType} - ${quoteLiteral(`${lagSeconds} seconds`)}::interval)::${cursorType}::text AS v`,
  );
  return result.rows[0]!.v;
}

/**
 * The cursor to store: max(cursor) in the snapshot, as PostgreSQL text (null on an empty table). A temporal cursor
 * is capped at the snapshot's own time: rows stamped in the future (clock skew, local time written into a
 * timestamp column) stay above the stored cursor and are re-read until their time has come, instead of pushing the
 * cursor ahead of every real change that follows. `futureRows` counts them, for a warning.
 */
export async function nextCursor(
  client: pg.Client,
  schema: string,
  table: string,
  cursorColumn: string,
  cursorType: string,
): Promise<{ value: string | null; futureRows: number; nonFiniteRows?: number }> {
  const c = quoteIdent(cursorColumn);
  const from = qualified(schema, table);
  if (NON_FINITE_CURSOR.test(cursorType)) {
    // NaN and +Infinity sort above every number: taken as the cursor, they would hide every later change. Like a
    // NULL cursor they cannot order changes: left out of the maximum, and re-read on every run (they are >= any bound).
    // Two filtered queries, so an index on the cursor still answers both (a FILTER aggregate would scan the table).
    // numeric has Infinity from PostgreSQL 14 on (its literal fails before); NaN sorts above it, and above all else.
    const top = cursorType.startsWith('numeric') && (await serverVersionNum(client)) < 140000 ? `'NaN'` : `'Infinity'`;
    const result = await client.query<{ v: string | null; nonfinite: string }>(
      `SELECT (SELECT max(${c}) FROM ${from} WHERE ${c} < ${top})::text AS v, (SELECT count(*) FROM ${from} WHERE ${c} >= ${top})::text AS nonfinite`,
    );
    return { value: result.rows[0]?.v ?? null, futureRows: 0, nonFiniteRows: Number(result.rows[0]?.nonfinite ?? 0) };
  }
  if (!TEMPORAL_CURSOR.test(cursorType)) {
    const result = await client.query<{ v: string | null }>(`SELECT max(${c})::text AS v FROM ${from}`);
    return { value: result.rows[0]?.v ?? null, futureRows: 0 };
  }
  const now = `now()::${cursorType}`;
  const result = await client.query<{ v: string | null; future: string }>(
    // least() skips NULLs: an empty table (or one whose cursors are all NULL) must keep a NULL cursor, not now()
    `SELECT CASE WHEN max(${c}) IS NULL THEN NULL ELSE least(max(${c}), ${now}) END::text AS v, ` +
      `(SELECT count(*) FROM ${from} WHERE ${c} > ${now})::text AS future FROM ${from}`,
  );
  return { value: result.rows[0]?.v ?? null, futureRows: Number(result.rows[0]?.future ?? 0) };
}

/** The source's server_version_num (150004 for 15.4). */
async function serverVersionNum(client: pg.Client): Promise<number> {
  const result = await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
  return Number(result.rows[0]?.v ?? 0);
}
