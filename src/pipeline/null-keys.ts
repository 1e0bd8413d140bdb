import type pg from 'pg';
import type { CatalogTable } from '../catalog/catalog.js';
import { DataError } from '../errors.js';
import { sourceQueryError } from '../source/postgres/postgres-connection.js';
import type { SourceTable } from '../source/postgres/postgres-introspector.js';
import { qualified, quoteIdent } from '../sql/quote.js';
import type { TableRead } from './table-read.js';

/**
 * Refuses, before anything is written, an incremental merge table whose key holds NULLs in the source: a merge (and
 * the key reconciliation) match rows by key with `=`, which never matches NULL, so such rows would be added again on
 * every run that reads them. Only keys the source does not enforce are counted (a source primary key is NOT NULL),
 * inside the run's snapshot, among the rows the run reads: an incremental read without key reconciliation counts only
 * its cursor window (a NULL-key row outside it is not read, so it cannot be added again; the cost follows the change,
 * not the table), a full read or a reconciling one (whose key comparison would fetch such a row on every run) the
 * whole table. Replace tables load as they are; the gate's `duplicates` check reports their NULL keys.
 */
export async function refuseNullKeys(client: pg.Client, tables: readonly CatalogTable[], sources: ReadonlyMap<string, SourceTable>, reads: readonly TableRead[]): Promise<void> {
  const problems: string[] = [];
  for (const t of tables) {
    if (t.writeDisposition !== 'merge' || !t.incremental || t.primaryKey.length === 0) continue;
    const columns = sources.get(t.name)?.columns ?? [];
    const nullable = t.primaryKey.filter((k) => !columns.find((c) => c.name === k)?.notNull);
    if (nullable.length === 0) continue;
    const read = reads.find((r) => r.entry.name === t.name);
    const window = read?.mode === 'incremental' && read.reconcile === 'never' && read.where ? `${read.where} AND ` : '';
    const where = `${window}(${nullable.map((k) => `${quoteIdent(k)} IS NULL`).join(' OR ')})`;
    const result = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${qualified(t.schema, t.name)} WHERE ${where}`).catch((cause: unknown) => {
      throw sourceQueryError(`Checking the key of ${t.schema}.${t.name} for NULLs`, cause);
    });
    const n = Number(result.rows[0]?.n ?? 0);
    if (n > 0) problems.push(`table ${t.schema}.${t.name}: ${n} row${n === 1 ? ' has' : 's have'} a NULL in the key (${t.primaryKey.join(', ')})`);
  }
  if (problems.length === 0) return;
  throw new DataError(
    `NULL in the primary key of a merge table: ${problems.join('; ')}. A merge matches rows by key and NULL never equals NULL, so these rows ` +
      'would be added again on every run. Nothing was loaded; the destination is unchanged. Fill the key in the source, declare a key whose ' +
      'columns are never NULL (primary_key in the catalog), or load the table with write_disposition: replace.',
  );
}
