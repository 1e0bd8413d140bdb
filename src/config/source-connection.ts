import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { ConfigError } from '../errors.js';

/** Where and how to reach the PostgreSQL source. `password` is never printed: use `describeSource`. */
export interface SourceConnection {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  readonly password: string | undefined;
  readonly sslMode: SslMode;
  /**
   * CA file for verifying the server (PGSSLROOTCERT or `sslrootcert` in the URL); `system` = Node's bundled Mozilla roots (libpq: the OS store)
   * (then sslmode is verify-full). Unset: `~/.postgresql/root.crt` if it exists, as libpq.
   */
  readonly sslRootCert: string | undefined;
  /** Client certificate (PGSSLCERT / `sslcert`); unset: `~/.postgresql/postgresql.crt` if it exists. */
  readonly sslCert?: string | undefined;
  /** Client certificate's private key (PGSSLKEY / `sslkey`); unset: `~/.postgresql/postgresql.key`. */
  readonly sslKey?: string | undefined;
  /**
   * Limit for the whole connection attempt, every TLS/plain attempt of the sslmode included (`connect_timeout` in
   * the URL, else PGCONNECT_TIMEOUT; seconds, as libpq). 0 waits for ever. Default 10 s.
   */
  readonly connectTimeoutMs?: number;
}

/** connect_timeout when none is given: libpq waits for ever; a scheduled job should not. */
export const DEFAULT_CONNECT_TIMEOUT_S = 10;

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';
const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

type Env = Readonly<Record<string, string | undefined>>;

interface Partial {
  host?: string | undefined;
  port?: string | undefined;
  database?: string | undefined;
  user?: string | undefined;
  password?: string | undefined;
  sslMode?: string | undefined;
  sslRootCert?: string | undefined;
  sslCert?: string | undefined;
  sslKey?: string | undefined;
  connectTimeout?: string | undefined;
}

/** URL query parameters ingesta reads (libpq's names). */
const URL_PARAMETERS = ['host', 'port', 'dbname', 'user', 'password', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'connect_timeout'];
/** libpq parameters that change nothing for ingesta's connections (it sets its own application name and session). */
const IGNORED_URL_PARAMETERS = [
  'application_name', 'fallback_application_name', 'client_encoding', 'keepalives',
  'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'tcp_user_timeout', 'target_session_attrs', 'sslsni',
  'sslcompression', 'gssencmode', 'krbsrvname', 'gsslib', 'load_balance_hosts',
  // not here, so refused: `service` (a pg_service.conf entry ingesta does not read: the defaults would be used
  // instead) and `options` (session settings ingesta would silently drop)
];

function fromUrl(url: string, origin: string): Partial {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // never echo the URL: it may carry a password. Nor keep Node's error as the cause: its `input` is the whole URL
    throw new ConfigError(`${origin} is not a valid PostgreSQL URL (expected postgres://user@host:port/database).`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConfigError(`${origin} must start with postgres:// or postgresql://.`);
  }
  // libpq decodes only %XX (a '+' stays a '+', unlike web forms); a bad escape is a ConfigError, never echoed
  const decode = (text: string, part: string): string => {
    try {
      return decodeURIComponent(text);
    } catch (cause) {
      throw new ConfigError(`${origin} has a malformed %-escape in its ${part}.`, { cause });
    }
  };
  const params = new Map<string, string>();
  for (const pair of parsed.search.replace(/^\?/, '').split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = decode(eq < 0 ? pair : pair.slice(0, eq), 'query');
    params.set(key, eq < 0 ? '' : decode(pair.slice(eq + 1), 'query'));
  }
  for (const key of params.keys()) {
    // as libpq: a parameter it does not know is an error, so a misspelt sslmode never silently means "no TLS"
    if (URL_PARAMETERS.includes(key) || IGNORED_URL_PARAMETERS.includes(key)) continue;
    throw new ConfigError(
      `${origin} has a query parameter ingesta does not support: "${key}". Supported: ${URL_PARAMETERS.join(', ')} ` +
        '(libpq names; see the README, "Source connection").',
    );
  }
  const hostParam = params.get('host'); // unix socket dirs come as ?host=/path
  return {
    host: hostParam ?? (parsed.hostname ? decode(parsed.hostname.replace(/^\[|\]$/g, ''), 'host') : undefined),
    // as libpq, a query parameter beats the same field in the authority or path
    port: nonEmpty(params.get('port')) ?? (parsed.port || undefined),
    database: nonEmpty(params.get('dbname')) ?? (parsed.pathname.length > 1 ? decode(parsed.pathname.slice(1), 'database name') : undefined),
    user: nonEmpty(params.get('user')) ?? (parsed.username ? decode(parsed.username, 'user name') : undefined),
    password: nonEmpty(params.get('password')) ?? (parsed.password ? decode(parsed.password, 'password') : undefined),
    sslMode: params.get('sslmode'),
    sslRootCert: params.get('sslrootcert'),
    sslCert: params.get('sslcert'),
    sslKey: params.get('sslkey'),
    connectTimeout: nonEmpty(params.get('connect_timeout')),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Resolves the source connection, field by field, from the first place that sets it:
 * 1. the URL (`--source-url`, else `DATABASE_URL`);
 * 2. the original container's `DATABASE_HOST`, `DATABASE_PORT`, `DATABASE_NAME`, `DATABASE_USERNAME`, `DATABASE_PASSWORD`;
 * 3. libpq's `PGHOST`, `PGPORT`, `PGDATABASE`, `PGUSER`, `PGPASSWORD`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`;
 * 4. libpq's defaults: localhost, 5432, user = OS user, database = user, sslmode prefer.
 */
export function resolveSourceConnection(env: Env, sourceUrl?: string): SourceConnection {
  const url = nonEmpty(sourceUrl) ?? nonEmpty(env.DATABASE_URL);
  const layers: Partial[] = [];
  if (url) layers.push(fromUrl(url, sourceUrl ? '--source-url' : 'DATABASE_URL'));
  layers.push({
    host: nonEmpty(env.DATABASE_HOST),
    port: nonEmpty(env.DATABASE_PORT),
    database: nonEmpty(env.DATABASE_NAME),
    user: nonEmpty(env.DATABASE_USERNAME),
    password: nonEmpty(env.DATABASE_PASSWORD),
  });
  layers.push({
    host: nonEmpty(env.PGHOST),
    port: nonEmpty(env.PGPORT),
    database: nonEmpty(env.PGDATABASE),
    user: nonEmpty(env.PGUSER),
    password: nonEmpty(env.PGPASSWORD),
    sslMode: nonEmpty(env.PGSSLMODE),
    sslRootCert: nonEmpty(env.PGSSLROOTCERT),
    sslCert: nonEmpty(env.PGSSLCERT),
    sslKey: nonEmpty(env.PGSSLKEY),
    connectTimeout: nonEmpty(env.PGCONNECT_TIMEOUT),
  });
  const pick = <K extends keyof Partial>(key: K): string | undefined => {
    for (const layer of layers) if (layer[key] !== undefined) return layer[key];
    return undefined;
  };
  const user = pick('user') ?? safeOsUser();
  const portText = pick('port') ?? '5432';
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`Source port "${portText}" is not a valid TCP port (1-65535). Check DATABASE_PORT / PGPORT / the URL.`);
  }
  const sslRootCert = pick('sslRootCert');
  // libpq 16: sslrootcert=system (trusted public roots: Node's bundled Mozilla list) makes verify-full the default and refuses weaker modes
  const sslMode = (pick('sslMode') ?? (sslRootCert === 'system' ? 'verify-full' : 'prefer')) as SslMode;
  if (!SSL_MODES.includes(sslMode)) {
    throw new ConfigError(`sslmode "${sslMode}" is not one of ${SSL_MODES.join(', ')}.`);
  }
  if (sslRootCert === 'system' && sslMode !== 'verify-full') {
    throw new ConfigError(`sslmode "${sslMode}" may not be used with sslrootcert=system (use "verify-full"): trusting every public CA only makes sense with the host name checked.`);
  }
  const host = pick('host') ?? 'localhost';
  const database = pick('database') ?? user;
  const connection = {
    host, port, database, user, sslMode, sslRootCert, sslCert: pick('sslCert'), sslKey: pick('sslKey'), connectTimeoutMs: connectTimeoutMs(pick('connectTimeout')),
  };
  // as libpq: the password file is consulted for the connection actually made, when nothing else gave one.
  // Not enumerable: JSON.stringify, console.log / util.inspect and spreads of a config or plan never show it
  Object.defineProperty(connection, 'password', { value: pick('password') ?? readPassFile(env, host, String(port), database, user), enumerable: false });
  return Object.freeze(connection) as SourceConnection;
}

/** connect_timeout / PGCONNECT_TIMEOUT in milliseconds: whole seconds as libpq reads them (values 1 and 2 mean 2 s). */
function connectTimeoutMs(text: string | undefined): number {
  if (text === undefined) return DEFAULT_CONNECT_TIMEOUT_S * 1000;
  if (!/^\s*\d{1,6}\s*$/.test(text)) {
    throw new ConfigError(`connect_timeout "${text}" is not a whole number of seconds (0 = no limit). Check ?connect_timeout= in the URL or PGCONNECT_TIMEOUT.`);
  }
  const seconds = Number(text);
  return seconds === 0 ? 0 : Math.max(2, seconds) * 1000;
}

/** host, port, database and user: what a person needs to find the problem. Never the password. */
export function describeSource(source: SourceConnection): string {
  return `host=${source.host} port=${source.port} database=${source.database} user=${source.user}`;
}

function safeOsUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'postgres';
  }
}

/** PGPASSFILE support, as libpq: host:port:db:user:password lines, '*' wildcards, matched on the resolved connection. */
function readPassFile(env: Env, host: string, port: string, db: string, user: string): string | undefined {
  const file = nonEmpty(env.PGPASSFILE);
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/(?<!\\):/).map((f) => f.replace(/\\([:\\])/g, '$1'));
    if (fields.length < 5) continue;
    const [h, p, d, u] = fields;
    const match = (pattern: string | undefined, value: string) => pattern === '*' || pattern === value;
    if (match(h, host) && match(p, port) && match(d, db) && match(u, user)) return fields.slice(4).join(':');
  }
  return undefined;
}

/** The variables that say where the source is (a URL, the original container's DATABASE_*, libpq's PG*). */
const SOURCE_VARIABLES = ['DATABASE_URL', 'DATABASE_HOST', 'DATABASE_PORT', 'DATABASE_NAME', 'DATABASE_USERNAME', 'PGHOST', 'PGPORT', 'PGDATABASE', 'PGUSER'];

/**
 * Whether any setting says where the source is. A command that reads the source only for something extra (`status`:
 * a CDC slot's lag) skips it without one, rather than trying libpq's defaults (the OS user on localhost).
 */
export function hasSourceSetting(sourceUrl?: string, env: Env = process.env): boolean {
  return nonEmpty(sourceUrl) !== undefined || SOURCE_VARIABLES.some((v) => nonEmpty(env[v]) !== undefined);
}
