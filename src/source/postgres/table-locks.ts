import type pg from 'pg';
import { qualified } from '../../sql/quote.js';
import { beginSnapshot, sourceQueryError } from './postgres-connection.js';

/** A source relation by schema and name. */
export interface RelationName {
  readonly schema: string;
  readonly name: string;
}

/**
 * The run's relations that LOCK TABLE accepts: tables, partitioned tables (their partitions are locked with them)
 * and views (PostgreSQL locks the tables a view reads). Materialized views and foreign tables cannot be locked and are
 * left out; so are names the source does not have (introspection reports those). Runs outside any transaction:
 * inside the snapshot's transaction a SELECT would fix the snapshot before the locks are held.
 */
export async function lockableRelations(client: pg.Client, relations: readonly RelationName[]): Promise<RelationName[]> {
  if (relations.length === 0) return [];
  const result = await client
    .query<{ i: string }>(
      `SELECT t.i::text AS i
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(schema_name, rel_name, i)
       JOIN pg_namespace n ON n.nspname = t.schema_name
       JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = t.rel_name
       WHERE c.relkind IN ('r', 'p', 'v')
       ORDER BY t.i`,
      [relations.map((r) => r.schema), relations.map((r) => r.name)],
    )
    .catch((cause: unknown) => {
      throw sourceQueryError('Looking up the tables to lock for the source snapshot', cause);
    });
  return result.rows.map((row) => relations[Number(row.i) - 1]!);
}

/**
 * Takes ACCESS SHARE locks on the relations, one statement each (so a lock wait that times out names its table),
 * right after BEGIN and before the transaction's first query. TRUNCATE and table-rewriting ALTER TABLE are not
 * MVCC-safe: committed after the snapshot, they would make a table not yet read look empty. LOCK does not take the
 * snapshot (the first query does), so the snapshot sees every table either before or after such a command, and the
 * command waits for the run to end. Readers joining an exported snapshot take the same locks. A wait longer than
 * lock_timeout (--lock-timeout) fails with the usual message naming the table.
 */
export async function lockRelations(client: pg.Client, relations: readonly RelationName[]): Promise<void> {
  for (const r of relations) {
    await client.query(`LOCK TABLE ${qualified(r.schema, r.name)} IN ACCESS SHARE MODE`).catch((cause: unknown) => {
      throw sourceQueryError(`Locking table ${r.schema}.${r.name} (ACCESS SHARE, for the run's snapshot)`, cause);
    });
  }
}

/**
 * The same locks for a reader joining the snapshot, taken with NOWAIT: returns the first relation whose lock was not
 * granted at once (its transaction is then aborted: close the connection), else undefined. The run's first reader
 * holds these locks already, so a conflicting command (TRUNCATE, a rewriting ALTER TABLE) can only be waiting for the
 * run; a reader queuing behind that command would wait for the run too, until lock_timeout failed the run.
 */
export async function lockRelationsNowait(client: pg.Client, relations: readonly RelationName[]): Promise<RelationName | undefined> {
  for (const r of relations) {
    try {
      await client.query(`LOCK TABLE ${qualified(r.schema, r.name)} IN ACCESS SHARE MODE NOWAIT`);
    } catch (cause) {
      if ((cause as { code?: unknown }).code === '55P03') return r;
      throw sourceQueryError(`Locking table ${r.schema}.${r.name} (ACCESS SHARE, for the run's snapshot)`, cause);
    }
  }
  return undefined;
}

/**
 * Opens the run's snapshot transaction with its tables locked: the lock list is looked up first (outside the
 * transaction), then BEGIN, then the locks; the caller's first query fixes the snapshot. Returns what was locked,
 * for the readers that join the snapshot.
 */
export async function beginLockedSnapshot(client: pg.Client, relations: readonly RelationName[], afterLock?: (client: pg.Client) => Promise<void>): Promise<RelationName[]> {
  const lockable = await lockableRelations(client, relations);
  await beginSnapshot(client);
  await lockRelations(client, lockable);
  // change data capture's first run joins its new slot's snapshot here, before the first query (pipeline/cdc-stage.ts)
  await afterLock?.(client);
  return lockable;
}
