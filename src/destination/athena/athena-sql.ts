import { quoteIdent } from '../../sql/quote.js';

/** `name` for Athena DDL statements (Hive syntax quotes with backticks, doubled inside). */
export function ddlIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

const table = (database: string, name: string) => `${quoteIdent(database)}.${quoteIdent(name)}`;
const keyMatch = (primaryKey: readonly string[], a: string, b: string) =>
  primaryKey.map((k) => `${a}.${quoteIdent(k)} = ${b}.${quoteIdent(k)}`).join(' AND ');

/**
 * Upserts the rows of `source` (a relation: a staging table's name or a parenthesised SELECT over it, see
 * athena-staging.ts) into the Iceberg table by primary key (idempotent: re-running it changes nothing).
 */
export function icebergMergeSql(database: string, target: string, source: string, columns: readonly string[], primaryKey: readonly string[]): string {
  const keys = new Set(primaryKey);
  const updates = columns.filter((c) => !keys.has(c)).map((c) => `${quoteIdent(c)} = s.${quoteIdent(c)}`);
  return (
    `MERGE INTO ${table(database, target)} AS t USING ${source} AS s ON (${keyMatch(primaryKey, 't', 's')}) ` +
    (updates.length > 0 ? `WHEN MATCHED THEN UPDATE SET ${updates.join(', ')} ` : '') +
    `WHEN NOT MATCHED THEN INSERT (${columns.map(quoteIdent).join(', ')}) VALUES (${columns.map((c) => `s.${quoteIdent(c)}`).join(', ')})`
  );
}

/**
 * After a full load's merge: removes the keys the full extract (`source`, as for the MERGE) no longer has (all rows
 * when it was empty). Trino's DELETE takes no table alias: the target's columns are qualified by its full name.
 */
export function icebergPruneSql(database: string, target: string, source: string | undefined, primaryKey: readonly string[]): string {
  if (!source) return `DELETE FROM ${table(database, target)}`;
  return (
    `DELETE FROM ${table(database, target)} WHERE NOT EXISTS ` +
    `(SELECT 1 FROM ${source} AS s WHERE ${keyMatch(primaryKey, 's', table(database, target))})`
  );
}

/**
 * Column backfill (see athena-backfill.ts): fills `columns` of the rows already in the Iceberg table from `source`
 * (key + those columns), by key. Rows the source does not match are left alone; no row is inserted.
 */
export function icebergBackfillSql(database: string, target: string, source: string, columns: readonly string[], primaryKey: readonly string[]): string {
  return (
    `MERGE INTO ${table(database, target)} AS t USING ${source} AS s ON (${keyMatch(primaryKey, 't', 's')}) ` +
    `WHEN MATCHED THEN UPDATE SET ${columns.map((c) => `${quoteIdent(c)} = s.${quoteIdent(c)}`).join(', ')}`
  );
}
