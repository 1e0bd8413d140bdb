import type pg from 'pg';
import type { SourceForeignKey } from './source-table.js';

/**
 * Foreign keys declared on every leaf partition of a partitioned table (as pagila declares payment's, one per
 * partition) — they hold for every row of the parent, so they are the parent's. A key missing on any partition is
 * left out. Keys a partition inherits from the parent are returned too (the caller drops those it already has).
 */
const PARTITION_FOREIGN_KEYS_SQL = `
WITH RECURSIVE parts AS (
  SELECT inhrelid AS oid FROM pg_inherits WHERE inhparent = $1::oid
  UNION ALL
  SELECT i.inhrelid FROM pg_inherits i JOIN parts p ON i.inhparent = p.oid
), leaves AS (
  SELECT p.oid FROM parts p JOIN pg_class c ON c.oid = p.oid WHERE c.relkind <> 'p'
), fks AS (
  SELECT con.oid, con.conrelid, con.conname,
         json_agg(a.attname ORDER BY k.ord)::text AS columns,
         rn.nspname AS referenced_schema,
         rc.relname AS referenced_table,
         json_agg(ra.attname ORDER BY k.ord)::text AS referenced_columns
  FROM pg_constraint con
  JOIN leaves l ON l.oid = con.conrelid
  CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(attnum, refattnum, ord)
  JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
  JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.refattnum
  JOIN pg_class rc ON rc.oid = con.confrelid
  JOIN pg_namespace rn ON rn.oid = rc.relnamespace
  WHERE con.contype = 'f'
  GROUP BY con.oid, con.conrelid, con.conname, rn.nspname, rc.relname
)
SELECT min(conname) AS name, columns, referenced_schema, referenced_table, referenced_columns
FROM fks
GROUP BY columns, referenced_schema, referenced_table, referenced_columns
HAVING count(DISTINCT conrelid) = (SELECT count(*) FROM leaves)
ORDER BY 1`;

export async function partitionForeignKeys(client: pg.Client, parentOid: string): Promise<SourceForeignKey[]> {
  const result = await client.query<Record<string, string>>(PARTITION_FOREIGN_KEYS_SQL, [parentOid]);
  return result.rows.map((f) => ({
    name: f.name!,
    columns: JSON.parse(f.columns!) as string[],
    referencedSchema: f.referenced_schema!,
    referencedTable: f.referenced_table!,
    referencedColumns: JSON.parse(f.referenced_columns!) as string[],
  }));
}

/** Adds the partitions' common foreign keys to the parent's own, without repeating one the parent declares. */
export function withPartitionKeys(own: readonly SourceForeignKey[], fromPartitions: readonly SourceForeignKey[]): SourceForeignKey[] {
  const key = (fk: SourceForeignKey) => JSON.stringify([fk.columns, fk.referencedSchema, fk.referencedTable, fk.referencedColumns]);
  const seen = new Set(own.map(key));
  return [...own, ...fromPartitions.filter((fk) => !seen.has(key(fk)))];
}
