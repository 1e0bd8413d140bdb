import { quoteIdent } from '../../sql/quote.js';

/** `name` for Athena DDL statements (Hive syntax quotes with backticks, doubled inside). */
export function ddlIdent(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

const table = (database: string, name: string) => `${quoteIdent(database)}.${quoteIdent(name)}`;
const keyMatch = (primaryKey: readonly string[], a: string, b: string) =>
  primaryKey.map((k) => `${a}.${quoteIdent(k)} = ${b}.${quoteIdent(k)}`).join(' AND ');

/** Upserts the staging table's rows into the Iceberg table by primary key (idempotent: re-running it changes nothing). */
export function icebergMergeSql(database: string, target: string, staging: string, columns: readonly string[], primaryKey: readonly string[]): string {
  const keys = new Set(primaryKey);
  const updates = columns.filter((c) => !keys.has(c)).map((c) => `${quoteIdent(c)} = s.${quoteIdent(c)}`);
  return (
    `MERGE INTO ${table(database, target)} AS t USING ${table(database, staging)} AS s ON (${keyMatch(primaryKey, 't', 's')}) ` +
    (updates.length > 0 ? `WHEN MATCHED THEN UPDATE SET ${updates.join(', ')} ` : '') +
    `WHEN NOT MATCHED THEN INSERT (${columns.map(quoteIdent).join(', ')}) VALUES (${columns.map((c) => `s.${quoteIdent(c)}`).join(', ')})`
  );
}

/** After a full load's merge: removes the keys the full extract no longer has (all rows when it was empty). */
export function icebergPruneSql(database: string, target: string, staging: string | undefined, primaryKey: readonly string[]): string {
  if (!staging) return `DELETE FROM ${table(database, target)}`;
  return (
    `DELETE FROM ${table(database, target)} AS t WHERE NOT EXISTS ` +
    `(SELECT 1 FROM ${table(database, staging)} AS s WHERE ${keyMatch(primaryKey, 's', 't')})`
  );
}
