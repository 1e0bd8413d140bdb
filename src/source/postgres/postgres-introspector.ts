import type pg from 'pg';
import type { SourceTable } from './source-table.js';
import { partitionForeignKeys, withPartitionKeys } from './partition-keys.js';

// the shapes are in source-table.ts (partition-keys.ts uses them too); re-exported for the introspector's callers
export type { SourceForeignKey, SourceTable } from './source-table.js';

const TABLE_SQL = `
SELECT c.oid::text AS oid, c.relkind::text AS kind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`;

// domains are resolved to their base type; numeric precision/scale decoded from the typmod
const COLUMNS_SQL = `
SELECT a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS format_type,
       CASE WHEN t.typtype = 'd' THEN format_type(bt.oid, NULLIF(t.typtypmod, -1)) END AS base_format_type,
       bt.typname AS type_name,
       bt.typcategory::text AS type_category,
       et.typname AS element_type_name,
       CASE WHEN bt.typname = 'numeric' AND coalesce(NULLIF(t.typtypmod, -1), a.atttypmod) > 0
            THEN ((coalesce(NULLIF(t.typtypmod, -1), a.atttypmod) - 4) >> 16) & 65535 END::text AS numeric_precision,
       CASE WHEN bt.typname = 'numeric' AND coalesce(NULLIF(t.typtypmod, -1), a.atttypmod) > 0
            THEN (coalesce(NULLIF(t.typtypmod, -1), a.atttypmod) - 4) & 65535 END::text AS numeric_scale,
       a.attnotnull::text AS not_null,
       a.attndims::text AS dimensions
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_type et ON et.oid = bt.typelem AND bt.typcategory = 'A'
WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`;

const PRIMARY_KEY_SQL = `
SELECT json_agg(a.attname ORDER BY k.ord)::text AS columns
FROM pg_constraint con
CROSS JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
WHERE con.conrelid = $1::oid AND con.contype = 'p'`;

const FOREIGN_KEYS_SQL = `
SELECT con.conname AS name,
       json_agg(a.attname ORDER BY k.ord)::text AS columns,
       rn.nspname AS referenced_schema,
       rc.relname AS referenced_table,
       json_agg(ra.attname ORDER BY k.ord)::text AS referenced_columns
FROM pg_constraint con
CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(attnum, refattnum, ord)
JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.refattnum
JOIN pg_class rc ON rc.oid = con.confrelid
JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE con.conrelid = $1::oid AND con.contype = 'f'
GROUP BY con.conname, rn.nspname, rc.relname
ORDER BY con.conname`;

/** Reads one table's definition; undefined when no such table (or view) exists. */
export async function introspectTable(client: pg.Client, schema: string, name: string): Promise<SourceTable | undefined> {
  const found = await client.query<{ oid: string; kind: string }>(TABLE_SQL, [schema, name]);
  const row = found.rows[0];
  if (!row) return undefined;
  const [columns, pk, fks] = [
    await client.query<Record<string, string | null>>(COLUMNS_SQL, [row.oid]),
    await client.query<{ columns: string | null }>(PRIMARY_KEY_SQL, [row.oid]),
    await client.query<Record<string, string>>(FOREIGN_KEYS_SQL, [row.oid]),
  ];
  // a partitioned table: the foreign keys declared on every one of its partitions are its own too
  const fromPartitions = row.kind === 'p' ? await partitionForeignKeys(client, row.oid) : [];
  return {
    schema,
    name,
    kind: row.kind,
    columns: columns.rows.map((c) => ({
      name: c.name!,
      formatType: c.format_type!,
      ...(c.base_format_type ? { baseFormatType: c.base_format_type } : {}),
      typeName: c.type_name!,
      typeCategory: c.type_category!,
      elementTypeName: c.element_type_name ?? undefined,
      numericPrecision: c.numeric_precision == null ? undefined : Number(c.numeric_precision),
      numericScale: c.numeric_scale == null ? undefined : Number(c.numeric_scale),
      notNull: c.not_null === 'true',
      dimensions: Number(c.dimensions ?? 0),
    })),
    primaryKey: pk.rows[0]?.columns ? (JSON.parse(pk.rows[0].columns) as string[]) : [],
    foreignKeys: withPartitionKeys(
      fks.rows.map((f) => ({
        name: f.name!,
        columns: JSON.parse(f.columns!) as string[],
        referencedSchema: f.referenced_schema!,
        referencedTable: f.referenced_table!,
        referencedColumns: JSON.parse(f.referenced_columns!) as string[],
      })),
      fromPartitions,
    ),
  };
}

const FIND_SQL = `
SELECT n.nspname AS schema, c.relname AS name
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND c.relname = ANY($1::text[])
  AND CASE WHEN $2::text[] IS NULL THEN n.nspname = ANY(current_schemas(false)) ELSE n.nspname = ANY($2::text[]) END
ORDER BY (c.relname = $1[1]) DESC, (n.nspname = coalesce($2[1], '')) DESC,
         array_position(current_schemas(false), n.nspname::text), n.nspname
LIMIT 1`;

/**
 * Finds a table by the name a user typed: a quoted part exactly, an unquoted part exactly or else in lower case
 * (as PostgreSQL folds it); without a schema, along the search path. undefined when nothing matches.
 */
export async function findTable(
  client: pg.Client,
  ref: { readonly schema: string | undefined; readonly schemaQuoted: boolean; readonly name: string; readonly nameQuoted: boolean },
): Promise<{ schema: string; name: string } | undefined> {
  const variants = (value: string, quoted: boolean) => (quoted ? [value] : [...new Set([value, value.toLowerCase()])]);
  // node-postgres serializes JS arrays into array literals itself
  const names = variants(ref.name, ref.nameQuoted);
  const schemas = ref.schema === undefined ? null : variants(ref.schema, ref.schemaQuoted);
  const result = await client.query<{ schema: string; name: string }>(FIND_SQL, [names, schemas]);
  return result.rows[0];
}
