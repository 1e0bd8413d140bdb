import pg from 'pg';
import { SourceError, messageOf } from '../../errors.js';
import { DEFAULT_CONNECT_TIMEOUT_S, describeSource, type SourceConnection } from '../../config/source-connection.js';
import { quoteLiteral } from '../../sql/quote.js';

/** Session limits that protect the transactional source. */
export interface SessionLimits {
  readonly statementTimeoutMs: number;
  readonly lockTimeoutMs: number;
}

// every value stays PostgreSQL text: no JS Date / Number detour for timestamps, numerics or bigints
const RAW_TEXT_TYPES = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

// how libpq reaches the server for an sslmode, and its TLS settings: tls-settings.ts
import { transports } from './tls-settings.js';
export { tlsSettings, transports, type TlsSettings, type Transport } from './tls-settings.js';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN']);
const TLS_VERIFY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'INVALID_CA',
]);
const NO_SSL = 'The server does not support SSL connections';

/** What to do about a failed connection, from the driver's code and message. */
function connectionHint(source: SourceConnection, code: string | undefined, message: string): string {
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT' || /connection timeout|timeout expired/i.test(message)) {
    return 'is the server running and reachable at that host and port?';
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'the host name does not resolve; check DATABASE_HOST / PGHOST / the URL.';
  if (code === '28P01') return 'check the user and password (DATABASE_PASSWORD / PGPASSWORD / the URL).';
  if (/password must be a string/i.test(message)) return 'set DATABASE_PASSWORD or PGPASSWORD, put it in the URL, or in a PGPASSFILE line.';
  if (code === '28000' && /no encryption/.test(message)) {
    return "the server accepts only TLS connections from here: use sslmode=require, or verify-full with the server's CA in PGSSLROOTCERT / ?sslrootcert=.";
  }
  if (code === '28000' && /SSL encryption|SSL on/.test(message)) return 'the server refuses TLS connections from here: use sslmode=disable (or prefer).';
  if (code === '28000' && /client certificate/.test(message)) {
    return 'the server wants a client certificate: give it with sslcert / sslkey in the URL or PGSSLCERT / PGSSLKEY (signed by a CA the server trusts, CN = the user).';
  }
  if (code === '28000') return "check the user and password (DATABASE_PASSWORD / PGPASSWORD / the URL), and the server's pg_hba.conf.";
  if (code === '3D000') return 'check DATABASE_NAME / PGDATABASE / the URL (with none set, the database is named like the user, as in libpq).';
  if (message === NO_SSL) {
    return `the server has TLS turned off but sslmode=${source.sslMode} requires it: turn ssl on in the server, or use sslmode=prefer or disable.`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `the server's certificate is not issued for "${source.host}" (sslmode=verify-full): connect with a host name the certificate names, or use sslmode=verify-ca.`;
  }
  if (code !== undefined && TLS_VERIFY_CODES.has(code)) {
    const roots = source.sslRootCert === 'system' ? "the public roots (Node's bundled Mozilla list)" : `"${source.sslRootCert ?? '~/.postgresql/root.crt'}"`;
    return `the server's certificate was not signed by the CA in ${roots} (sslmode=${source.sslMode}): check PGSSLROOTCERT / ?sslrootcert=.`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return "the server's certificate is outside its validity period.";
  // (a hang-up can also surface as a reset, depending on timing: the TLS attempt of sslmode=prefer on a busy machine)
  if (code === 'ECONNRESET' || code === 'EPIPE' || /Connection terminated unexpectedly|error establishing an SSL connection|socket disconnected before secure TLS/i.test(message)) {
    return 'the other end closed the connection without a PostgreSQL answer: is a PostgreSQL server (not a proxy or another service) listening at that host and port?';
  }
  return 'check the connection settings.';
}

/** Translates a driver error on connect into one clear line (never the password) with what to do. */
export function connectionError(source: SourceConnection, cause: unknown, also?: string): SourceError {
  // node-postgres words a missing password as its own internals ("SASL: SCRAM-SERVER-FIRST-MESSAGE: client password
  // must be a string"): say what the server asked for instead
  const raw = messageOf(cause);
  const message = /password must be a string/i.test(raw) ? 'the server asks for a password and none was given' : raw;
  const hint = connectionHint(source, (cause as { code?: string }).code, raw);
  return new SourceError(
    `Cannot connect to PostgreSQL (${describeSource(source)} sslmode=${source.sslMode}): ${message}${also ? ` (${also})` : ''}; ${hint}`,
    { cause },
  );
}

/** The connection attempt ran past connect_timeout (the whole attempt, not one transport). */
class ConnectTimeout extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(limitMs: number, cause?: unknown) {
    super(`no answer within connect_timeout (${limitMs / 1000} s)`, { cause });
  }
}

/** Per resolved source: the transport that last worked, so a run's other connections start there. */
const lastWorked = new WeakMap<SourceConnection, number>();

/**
 * Connects as libpq would for the sslmode: the attempts of `transports`, falling back from one to the next the way
 * libpq does (prefer: TLS failed in any way but a network error → plain; allow: the server refused plain → TLS).
 */
async function openClient(source: SourceConnection, extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const attempts = transports(source);
  const start = lastWorked.get(source) ?? 0;
  const order = [...attempts.slice(start), ...attempts.slice(0, start)];
  const failures: { tls: boolean; error: unknown }[] = [];
  // connect_timeout bounds the whole attempt, the fallback of prefer/allow included (libpq: per host, all its tries)
  const limitMs = source.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_S * 1000;
  const deadline = limitMs > 0 ? Date.now() + limitMs : Infinity;
  for (const [i, transport] of order.entries()) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break; // the attempt before this one used the time up (and said why)
    const settings = transport.tls ? transport.options() : undefined;
    const client = new pg.Client({
      host: source.host,
      port: source.port,
      database: source.database,
      user: source.user,
      password: source.password,
      ssl: settings ? settings.node : false,
      application_name: 'ingesta',
      types: RAW_TEXT_TYPES,
      // pg: 0 = no limit; its own timer covers the TCP connect, TLS and the startup exchange
      connectionTimeoutMillis: Number.isFinite(remaining) ? Math.max(1, Math.round(remaining)) : 0,
      // a network that dies silently (no FIN/RST: a failover, a dropped NAT entry) would leave a COPY waiting forever;
      // TCP keepalive probes after 30 s of silence make the socket fail instead (libpq has keepalives on by default too)
      keepAlive: true,
      keepAliveInitialDelayMillis: 30_000,
      ...extra,
    });
    // an error after connect (server restart, cut connection) must not crash the process: the pending query rejects
    client.on('error', () => undefined);
    try {
      await client.connect();
      lastWorked.set(source, attempts.indexOf(transport));
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      const failure = /connection timeout|timeout expired/i.test(messageOf(error)) ? new ConnectTimeout(limitMs, error) : error;
      failures.push({ tls: transport.tls, error: failure });
      const code = (failure as { code?: string }).code;
      const network = code !== undefined && NETWORK_CODES.has(code);
      // prefer: any failure of TLS but an unreachable server → plain; allow: only a server's refusal → TLS
      const retry = i < order.length - 1 && !network && (transport.tls || error instanceof pg.DatabaseError);
      if (!retry) break;
    }
  }
  // report the server's own reason first (over TLS if it gave one), and the other attempt after it
  const meaningful = failures.filter((f) => messageOf(f.error) !== NO_SSL);
  const pool = meaningful.length > 0 ? meaningful : failures;
  const verifyFailed = (f: (typeof pool)[number]) => f.tls && /CERT|SIGNATURE|ALTNAME|INVALID_CA/.test(String((f.error as { code?: string }).code));
  const main =
    pool.find((f) => f.tls && f.error instanceof pg.DatabaseError) ??
    pool.find(verifyFailed) ??
    pool.find((f) => f.error instanceof pg.DatabaseError) ??
    pool[pool.length - 1]!;
  const other = pool.find((f) => f !== main);
  throw connectionError(source, main.error, other ? `${other.tls ? 'with' : 'without'} TLS: ${messageOf(other.error)}` : undefined);
}

/** The driver's ways of saying the session is gone: a cut socket, a server restart (57P01-57P03), a closed client. */
export function isConnectionLost(cause: unknown): boolean {
  const { code } = cause as { code?: string };
  if (code !== undefined && ['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNREFUSED', '57P01', '57P02', '57P03', '08006', '08003', '08000'].includes(code)) return true;
  return /Connection terminated|not queryable|terminating connection|server closed the connection/i.test(messageOf(cause));
}

/**
 * A failed source statement as one SourceError: what was being done (naming the table), the server's reason, and
 * what to do for the faults a run meets in practice (lost connection, statement timeout, lock timeout, cancel).
 * `what` reads like "Extracting table public.accounts"; the message ends by saying the destination is unchanged.
 */
export function sourceQueryError(what: string, cause: unknown): SourceError {
  if (cause instanceof SourceError) return cause;
  const { code } = cause as { code?: string };
  const reason = messageOf(cause);
  const hint = isConnectionLost(cause)
    ? 'the connection to PostgreSQL was lost (server restarted, network cut or session terminated); run again once the server is reachable'
    : code === '57014' && /statement timeout/i.test(reason)
      ? 'the statement ran longer than statement_timeout; raise --statement-timeout (INGESTA_STATEMENT_TIMEOUT, 0 = no limit) or run when the source is less busy'
      : code === '55P03'
        ? 'another session holds a conflicting lock on the table (ALTER TABLE, DROP, TRUNCATE, VACUUM FULL, LOCK TABLE, …) for longer than lock_timeout; run again once it is released, or raise --lock-timeout (INGESTA_LOCK_TIMEOUT)'
        : code === '57014'
          ? 'the query was cancelled on the server (pg_cancel_backend or an administrator); run again'
          : code === '22021'
            ? 'the table holds bytes that are not valid UTF-8 (typical of a SQL_ASCII database fed by clients in another encoding): ' +
              "find the rows with a byte-wise check such as WHERE col !~ '^[\\x01-\\x7f]*$' on each text column, convert them in the source " +
              "(convert_from(convert_to(col, 'SQL_ASCII'), 'LATIN1') for Latin-1 text, for example), or leave the table out with --tables"
            : undefined;
  return new SourceError(`${what} failed: ${reason}${hint ? ` (${hint})` : ''}. Nothing was loaded; the destination is unchanged.`, { cause });
}

/**
 * Opens one read-only session on the source with a stable text format:
 * UTC time zone (timestamptz arrives with +00), ISO dates, exact floats, hex bytea.
 */
export async function connectSource(source: SourceConnection, limits: SessionLimits): Promise<pg.Client> {
  const client = await openClient(source);
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

/** A replication-protocol session (walsender, `replication=database`) for creating a CDC slot (cdc/cdc-slot.ts). */
export function connectReplication(source: SourceConnection): Promise<pg.Client> {
  return openClient(source, { replication: 'database' } as Partial<pg.ClientConfig>);
}

/**
 * Starts the run's one snapshot: every table of the run is read inside it, so relationships hold even while the
 * source is being written. READ ONLY: ingesta never writes to the source.
 */
export async function beginSnapshot(client: pg.Client): Promise<void> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY').catch((cause: unknown) => {
    throw sourceQueryError('Starting the source snapshot', cause);
  });
}

/**
 * Exports the open snapshot so other sessions can read the very same data (pg_export_snapshot): valid while the
 * exporting transaction stays open.
 */
export async function exportSnapshot(client: pg.Client): Promise<string> {
  try {
    return (await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
  } catch (cause) {
    throw sourceQueryError('Exporting the source snapshot to the other reader connections', cause);
  }
}

/** Starts a READ ONLY transaction on a snapshot exported by another session: both see exactly the same rows. */
export async function joinSnapshot(client: pg.Client, snapshotId: string): Promise<void> {
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(snapshotId)}`);
  } catch (cause) {
    throw sourceQueryError('Joining the source snapshot from another reader connection', cause);
  }
}

/** Ends the snapshot; the source holds no lock or snapshot of ours afterwards. */
export async function closeSource(client: pg.Client): Promise<void> {
  await client.query('ROLLBACK').catch(() => undefined);
  await client.end().catch(() => undefined);
}
