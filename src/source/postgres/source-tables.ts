import type pg from 'pg';

/** What a person needs when a table name is unknown: where ingesta looked, and what is there. */
export interface SourceListing {
  readonly database: string;
  readonly user: string;
  /** Tables, views and materialized views this user can see, `schema.name`, system schemas left out. */
  readonly tables: readonly string[];
}

/** Lists the source's tables (and views) visible to the session's user, for error messages. */
export async function listSourceTables(client: pg.Client): Promise<SourceListing> {
  const { rows } = await client.query<{ name: string; db: string; usr: string }>(
    `SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name, current_database() AS db, current_user AS usr
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
        AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
        AND has_table_privilege(c.oid, 'SELECT')
      ORDER BY 1`,
  );
  if (rows.length === 0) {
    const { rows: who } = await client.query<{ db: string; usr: string }>('SELECT current_database() AS db, current_user AS usr');
    return { database: who[0]!.db, user: who[0]!.usr, tables: [] };
  }
  return { database: rows[0]!.db, user: rows[0]!.usr, tables: rows.map((r) => r.name) };
}

/** Levenshtein distance, for "did you mean" on a mistyped table name. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** The known name closest to `name` (by its last part, without case), if it is a plausible typo of it. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const bare = (n: string) => n.split('.').pop()!.replace(/"/g, '').toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const k of known) {
    const d = distance(bare(name), bare(k));
    if (!best || d < best.d) best = { name: k, d };
  }
  return best && best.d > 0 && best.d <= Math.max(1, Math.floor(bare(name).length / 3)) ? best.name : undefined;
}
