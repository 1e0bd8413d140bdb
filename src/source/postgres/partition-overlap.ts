import type pg from 'pg';
import { ConfigError } from '../../errors.js';
import { sourceQueryError } from './postgres-connection.js';

/** Pairs of the given relations where the second is a partition (or an inheritance child) of the first, at any depth. */
const OVERLAP_SQL = `
WITH RECURSIVE rels AS (
  SELECT t.i, c.oid
  FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(schema_name, rel_name, i)
  JOIN pg_namespace n ON n.nspname = t.schema_name
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.rel_name
), down AS (
  SELECT r.i AS root, i.inhrelid AS oid FROM rels r JOIN pg_inherits i ON i.inhparent = r.oid
  UNION
  SELECT d.root, i.inhrelid FROM down d JOIN pg_inherits i ON i.inhparent = d.oid
)
SELECT d.root::text AS parent, r.i::text AS child, c.relispartition::text AS partition
FROM down d JOIN rels r ON r.oid = d.oid JOIN pg_class c ON c.oid = d.oid
ORDER BY 1, 2`;

/**
 * Refuses a run that names a table and one of its partitions (or inheritance children): reading the parent reads the
 * child's rows too, so they would be loaded twice. A ConfigError (exit 2) before anything is opened or written.
 */
export async function refuseParentWithPartition(client: pg.Client, tables: readonly { readonly schema: string; readonly name: string }[]): Promise<void> {
  if (tables.length < 2) return;
  const result = await client
    .query<{ parent: string; child: string; partition: string }>(OVERLAP_SQL, [tables.map((t) => t.schema), tables.map((t) => t.name)])
    .catch((cause: unknown) => {
      throw sourceQueryError('Looking up partitions among the tables of the run', cause);
    });
  if (result.rows.length === 0) return;
  const label = (i: string) => `${tables[Number(i) - 1]!.schema}.${tables[Number(i) - 1]!.name}`;
  const pairs = result.rows.map(
    (r) => `${label(r.child)} is ${r.partition === 'true' ? 'a partition of' : 'an inheritance child of'} ${label(r.parent)}`,
  );
  throw new ConfigError(
    `A table and its partition in the same run: ${pairs.join('; ')}. Reading the parent reads the partition's rows too, so they would be loaded twice. ` +
      'Load the parent alone (it holds every partition), or the partitions without the parent (--tables).',
  );
}
