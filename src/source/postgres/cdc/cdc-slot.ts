import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { SourceConnection } from '../../../config/source-connection.js';
import { SourceError, messageOf } from '../../../errors.js';
import { qualified, quoteIdent, quoteLiteral } from '../../../sql/quote.js';
import { connectReplication, sourceQueryError } from '../postgres-connection.js';
import { lsnValue } from './pgoutput-decoder.js';

/** A table of a CDC run, as the source names it. */
export interface CdcSourceTable {
  readonly schema: string;
  readonly name: string;
  /** The key the run merges on (empty: the table needs REPLICA IDENTITY FULL). */
  readonly primaryKey: readonly string[];
}

/**
 * The slot (and publication) of one destination and dataset: `ingesta_<dataset>_<hash>`, the hash over the
 * destination's identity (the resolved DuckDB file, or bucket/prefix and endpoint) and the dataset, so two
 * destinations never share a slot. Only [a-z0-9_], at most 63 characters.
 */
export function cdcSlotName(destinationIdentity: string, dataset: string): string {
  const hash = createHash('sha256').update(`${destinationIdentity}\u0000${dataset}`).digest('hex').slice(0, 12);
  const readable = dataset.toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 63 - 'ingesta__'.length - hash.length);
  return `ingesta_${readable}_${hash}`;
}

const fail = (what: string, cause: unknown) => sourceQueryError(what, cause);

/**
 * What CDC needs of the source, checked before anything runs: wal_level=logical, a role with REPLICATION (or
 * superuser), and for a table without a key REPLICA IDENTITY FULL. One SourceError (exit 3) says exactly what is missing.
 */
export async function checkCdcSource(client: pg.Client, tables: readonly CdcSourceTable[]): Promise<void> {
  const { rows } = await client
    .query<{ wal_level: string; replication: boolean; usr: string }>(
      `SELECT current_setting('wal_level') AS wal_level, (r.rolreplication OR r.rolsuper) AS replication, current_user AS usr FROM pg_roles r WHERE r.rolname = current_user`,
    )
    .catch((cause: unknown) => {
      throw fail('Checking the source for change data capture', cause);
    });
  const row = rows[0]!;
  if (row.wal_level !== 'logical') {
    throw new SourceError(
      `Change data capture needs wal_level=logical on the source, which runs wal_level=${row.wal_level}: set it (ALTER SYSTEM SET wal_level = logical; RDS: rds.logical_replication=1) and restart PostgreSQL, or run without --cdc / incremental.method cdc.`,
    );
  }
  if (!(row.replication === true || String(row.replication) === 't' || String(row.replication) === 'true')) {
    throw new SourceError(
      `Change data capture needs a role with the REPLICATION attribute; user ${row.usr} has none: ALTER ROLE ${quoteIdent(row.usr)} REPLICATION (RDS: GRANT rds_replication TO ${quoteIdent(row.usr)}), or run without --cdc / incremental.method cdc.`,
    );
  }
  for (const t of tables) {
    const ident = await client
      .query<{ relreplident: string }>(`SELECT c.relreplident FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`, [t.schema, t.name])
      .catch((cause: unknown) => {
        throw fail(`Reading the replica identity of ${t.schema}.${t.name}`, cause);
      });
    const replident = ident.rows[0]?.relreplident;
    if (replident === undefined) continue; // introspection reports a missing table
    if (replident === 'n' || (t.primaryKey.length === 0 && replident !== 'f')) {
      throw new SourceError(
        `Table ${t.schema}.${t.name} ${t.primaryKey.length === 0 ? 'has no primary key' : 'has REPLICA IDENTITY NOTHING'}: change data capture cannot tell which row an update or delete changes. ` +
          `Run ALTER TABLE ${qualified(t.schema, t.name)} REPLICA IDENTITY FULL (as its owner), or leave it out of CDC.`,
      );
    }
  }
}

/** The slot as pg_replication_slots shows it (undefined if it does not exist in this database). */
export interface SlotInfo {
  readonly slot: string;
  readonly database: string;
  readonly active: boolean;
  readonly confirmedLsn: string | null;
  readonly restartLsn: string | null;
  /** WAL bytes the slot keeps on the server (current position − restart_lsn). */
  readonly retainedBytes: string | null;
  /** Bytes of WAL not yet confirmed (current position − confirmed_flush_lsn). */
  readonly lagBytes: string | null;
}

export async function slotInfo(client: pg.Client, slot: string): Promise<SlotInfo | undefined> {
  const { rows } = await client
    .query<Record<string, string | null>>(
      `SELECT slot_name, database, active::text AS active, confirmed_flush_lsn::text AS confirmed, restart_lsn::text AS restart,
              pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint::text AS retained,
              pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text AS lag
       FROM pg_replication_slots WHERE slot_name = $1`,
      [slot],
    )
    .catch((cause: unknown) => {
      throw fail(`Reading the replication slot ${slot}`, cause);
    });
  const r = rows[0];
  if (!r) return undefined;
  return {
    slot, database: r.database ?? '', active: r.active === 'true', confirmedLsn: r.confirmed ?? null, restartLsn: r.restart ?? null,
    retainedBytes: r.retained ?? null, lagBytes: r.lag ?? null,
  };
}

/** Runs DDL on the (read-only by default) session in its own read-write transaction. */
async function writeDdl(client: pg.Client, sql: string): Promise<void> {
  await client.query('BEGIN READ WRITE');
  try {
    await client.query(sql);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * The publication of the slot holds exactly the run's CDC tables: created, or its table list set, when it differs.
 * Needs ownership of the tables (or a DBA creates it beforehand with this name: then nothing is changed).
 */
export async function ensurePublication(client: pg.Client, name: string, tables: readonly CdcSourceTable[]): Promise<void> {
  const list = tables.map((t) => qualified(t.schema, t.name)).join(', ');
  try {
    const exists = (await client.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [name])).rows.length > 0;
    if (exists) {
      const viaRoot = (await client.query<{ v: string }>(`SELECT pubviaroot::text AS v FROM pg_publication WHERE pubname = $1`, [name])).rows[0]?.v;
      if (viaRoot !== 'true') await writeDdl(client, `ALTER PUBLICATION ${quoteIdent(name)} SET (publish_via_partition_root = true)`);
      const { rows } = await client.query<{ s: string; t: string }>(`SELECT schemaname AS s, tablename AS t FROM pg_publication_tables WHERE pubname = $1`, [name]);
      const have = new Set(rows.map((r) => `${r.s}.${r.t}`));
      if (have.size === tables.length && tables.every((t) => have.has(`${t.schema}.${t.name}`))) return;
      await writeDdl(client, `ALTER PUBLICATION ${quoteIdent(name)} SET TABLE ${list}`);
    } else {
      // a partitioned table's changes arrive under its own name, not its partitions' (which no run would match)
      await writeDdl(client, `CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${list} WITH (publish_via_partition_root = true)`);
    }
  } catch (cause) {
    if ((cause as { code?: string }).code === '42501') {
      throw new SourceError(
        `Change data capture needs the publication ${name}, and this user may not create or change it (${messageOf(cause)}): ` +
          `have the tables' owner run CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${list} WITH (publish_via_partition_root = true) (or ALTER PUBLICATION … SET TABLE), then run again.`,
        { cause },
      );
    }
    throw fail(`Creating the publication ${name}`, cause);
  }
}

/** Removes the slot if it exists (it must not be in use). Returns whether there was one. */
export async function dropSlot(client: pg.Client, slot: string): Promise<boolean> {
  try {
    const { rows } = await client.query(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1`, [slot]);
    return rows.length > 0;
  } catch (cause) {
    throw fail(`Dropping the replication slot ${slot}`, cause);
  }
}

export async function dropPublication(client: pg.Client, name: string): Promise<boolean> {
  try {
    const exists = (await client.query(`SELECT 1 FROM pg_publication WHERE pubname = $1`, [name])).rows.length > 0;
    if (exists) await writeDdl(client, `DROP PUBLICATION ${quoteIdent(name)}`);
    return exists;
  } catch (cause) {
    throw fail(`Dropping the publication ${name}`, cause);
  }
}

/** A slot just created with an exported snapshot: the snapshot stays valid while `connection` stays open and idle. */
export interface NewSlot {
  readonly consistentPoint: string;
  readonly snapshotName: string;
  readonly connection: pg.Client;
}

/**
 * CREATE_REPLICATION_SLOT … LOGICAL pgoutput (SNAPSHOT 'export') on a replication connection. PostgreSQL waits for the
 * transactions running now to end before it returns (its rule for a consistent starting point).
 */
export async function createSlot(source: SourceConnection, slot: string, onConnection?: (connection: pg.Client) => void): Promise<NewSlot> {
  const connection = await connectReplication(source);
  // the caller can end it while PostgreSQL waits for running transactions (a signal must not wait for them)
  onConnection?.(connection);
  try {
    const { rows } = await connection.query<{ consistent_point: string; snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput (SNAPSHOT 'export')`,
    );
    return { consistentPoint: rows[0]!.consistent_point, snapshotName: rows[0]!.snapshot_name, connection };
  } catch (cause) {
    await connection.end().catch(() => undefined);
    throw fail(`Creating the replication slot ${slot}`, cause);
  }
}

/** Joins the slot's exported snapshot: must come before the transaction's first query (LOCK TABLE may precede it). */
export async function importSnapshot(client: pg.Client, snapshotName: string): Promise<void> {
  await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshotName)}`).catch((cause: unknown) => {
    throw fail('Joining the replication slot snapshot', cause);
  });
}

/**
 * The WAL position the run reads up to: the current insert position, once it is flushed (logical decoding reads only
 * flushed WAL; with synchronous_commit off a commit may be visible a moment before its WAL is flushed).
 */
export async function flushedPosition(client: pg.Client): Promise<string> {
  try {
    const target = (await client.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l;
    for (let i = 0; i < 200; i += 1) {
      const flushed = (await client.query<{ l: string }>('SELECT pg_current_wal_flush_lsn()::text AS l')).rows[0]!.l;
      if (lsnValue(flushed) >= lsnValue(target)) return target;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return target;
  } catch (cause) {
    throw fail('Reading the WAL position', cause);
  }
}

/** Confirms the slot up to `lsn` (after the destination committed it): the server may then recycle that WAL. */
export async function advanceSlot(client: pg.Client, slot: string, lsn: string): Promise<void> {
  // never behind the slot's own position (a replayed run confirms what an earlier, killed one may have confirmed)
  const sql = `SELECT pg_replication_slot_advance(slot_name, GREATEST($2::pg_lsn, confirmed_flush_lsn)) FROM pg_replication_slots WHERE slot_name = $1`;
  await client.query(sql, [slot, lsn]).catch((cause: unknown) => {
    throw fail(`Confirming the replication slot ${slot} up to ${lsn}`, cause);
  });
}
