import { readFileSync } from 'node:fs';
import pg from 'pg';
import { ConfigError, SourceError, messageOf } from '../../errors.js';
import { describeSource, type SourceConnection } from '../../config/source-connection.js';

/** Session limits that protect the transactional source. */
export interface SessionLimits {
  readonly statementTimeoutMs: number;
  readonly lockTimeoutMs: number;
}

// every value stays PostgreSQL text: no JS Date / Number detour for timestamps, numerics or bigints
const RAW_TEXT_TYPES = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

function sslOptions(source: SourceConnection): pg.ClientConfig['ssl'] {
  switch (source.sslMode) {
    case 'disable':
    case 'allow':
      return false;
    case 'prefer':
      // node-postgres cannot fall back from TLS to plain text: prefer means plain, as most local servers expect
      return false;
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
    case 'verify-full': {
      let ca: string | undefined;
      if (source.sslRootCert) {
        try {
          ca = readFileSync(source.sslRootCert, 'utf8');
        } catch (cause) {
          throw new ConfigError(`Cannot read the CA file ${source.sslRootCert} (PGSSLROOTCERT / sslrootcert): ${messageOf(cause)}`, { cause });
        }
      }
      return {
        rejectUnauthorized: true,
        ...(ca ? { ca } : {}),
        // verify-ca checks the chain but not the host name
        ...(source.sslMode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
      };
    }
  }
}

/** Translates a driver error on connect into one clear line (never the password) with what to do. */
export function connectionError(source: SourceConnection, cause: unknown): SourceError {
  const code = (cause as { code?: string }).code;
  const hint =
    code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ETIMEDOUT'
      ? 'is the server running and reachable at that host and port?'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'the host name does not resolve; check DATABASE_HOST / PGHOST / the URL.'
        : code === '28P01' || code === '28000'
          ? 'check the user and password (DATABASE_PASSWORD / PGPASSWORD / the URL).'
          : code === '3D000'
            ? 'the database does not exist; check DATABASE_NAME / PGDATABASE / the URL.'
            : 'check the connection settings.';
  return new SourceError(`Cannot connect to PostgreSQL (${describeSource(source)}): ${messageOf(cause)}; ${hint}`, { cause });
}

/**
 * Opens one read-only session on the source with a stable text format:
 * UTC time zone (timestamptz arrives with +00), ISO dates, exact floats, hex bytea.
 */
export async function connectSource(source: SourceConnection, limits: SessionLimits): Promise<pg.Client> {
  const client = new pg.Client({
    host: source.host,
    port: source.port,
    database: source.database,
    user: source.user,
    password: source.password,
    ssl: sslOptions(source),
    application_name: 'ingesta',
    types: RAW_TEXT_TYPES,
    connectionTimeoutMillis: 15_000,
  });
  // an error after connect (server restart, cut connection) must not crash the process: the pending query rejects
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (cause) {
    await client.end().catch(() => undefined);
    throw connectionError(source, cause);
  }
  try {
    await client.query(
      [
        "SET application_name = 'ingesta'",
        "SET TimeZone = 'UTC'",
        "SET DateStyle = 'ISO, YMD'",
        "SET IntervalStyle = 'postgres'",
        'SET extra_float_digits = 3',
        "SET bytea_output = 'hex'",
        'SET default_transaction_read_only = on',
        `SET statement_timeout = ${Math.round(limits.statementTimeoutMs)}`,
        `SET lock_timeout = ${Math.round(limits.lockTimeoutMs)}`,
      ].join('; '),
    );
  } catch (cause) {
    await client.end().catch(() => undefined);
    throw new SourceError(`Cannot prepare the PostgreSQL session (${describeSource(source)}): ${messageOf(cause)}`, { cause });
  }
  return client;
}

/**
 * Starts the run's one snapshot: every table of the run is read inside it, so relationships hold even while the
 * source is being written. READ ONLY: ingesta never writes to the source.
 */
export async function beginSnapshot(client: pg.Client): Promise<void> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
}

/**
 * Exports the open snapshot so other sessions can read the very same data (pg_export_snapshot): valid while the
 * exporting transaction stays open.
 */
export async function exportSnapshot(client: pg.Client): Promise<string> {
  return (await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
}

/** Starts a READ ONLY transaction on a snapshot exported by another session: both see exactly the same rows. */
export async function joinSnapshot(client: pg.Client, snapshotId: string): Promise<void> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  await client.query(`SET TRANSACTION SNAPSHOT '${snapshotId.replace(/'/g, "''")}'`);
}

/** Ends the snapshot; the source holds no lock or snapshot of ours afterwards. */
export async function closeSource(client: pg.Client): Promise<void> {
  await client.query('ROLLBACK').catch(() => undefined);
  await client.end().catch(() => undefined);
}
