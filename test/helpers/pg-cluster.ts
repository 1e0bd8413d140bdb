import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, renameSync, rmSync, writeFileSync, appendFileSync, readFileSync, existsSync } from 'node:fs';
import { SCRATCH_DIR_ENV } from './scratch.js';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * A private PostgreSQL 15 cluster for one test file: its own data folder, port, pg_hba.conf and (optionally) TLS
 * certificates, so tests can use password (SCRAM) authentication and TLS, which the machine's trust-auth server does
 * not. The cluster runs as the `postgres` OS user (initdb refuses root); it is stopped by `stop()` and, as a last
 * resort, when the test process exits.
 */
const BIN = process.env.TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface TlsFiles {
  readonly dir: string;
  /** The test CA that signed the server (and client) certificates. */
  readonly caCert: string;
  /** Another CA, which signed nothing the server uses: verify-ca / verify-full against it must fail. */
  readonly otherCaCert: string;
  /** The server's certificate (CN localhost; SAN DNS:localhost, IP:127.0.0.1) and key, owned by postgres. */
  readonly serverCert: string;
  readonly serverKey: string;
  /** A client certificate for `user` signed by the test CA, with its key (mode 0600). */
  clientCert(user: string): { cert: string; key: string };
}

export interface PgClusterOptions {
  /** Turn TLS on with fresh certificates (see TlsFiles). */
  readonly tls?: boolean;
  /** pg_hba.conf lines after `local all all trust` (the admin connection uses the Unix socket). */
  readonly hba: readonly string[];
  /** Extra postgresql.conf settings. */
  readonly settings?: Readonly<Record<string, string | number>>;
  /** listen_addresses (default 127.0.0.1). */
  readonly listen?: string;
}

export interface PgCluster {
  readonly port: number;
  /** The folder of the Unix socket (the admin connection). */
  readonly socketDir: string;
  readonly tls: TlsFiles | undefined;
  /** A superuser client over the Unix socket (trust), values as PostgreSQL text. */
  admin(database?: string): Promise<pg.Client>;
  /** Runs statements as superuser on a database (default postgres). */
  exec(sql: string | readonly string[], database?: string): Promise<void>;
  /** postgres://user:password@127.0.0.1:port/database plus query parameters, the password %-encoded. */
  url(user: string, password: string | undefined, database: string, params?: Record<string, string>): string;
  /** The server log (to check what the server saw, e.g. that no plain connection got in). */
  log(): string;
  stop(): Promise<void>;
}

const raw = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
const running = new Set<{ dataDir: string; root: string }>();

// last resort: a test process that dies between start and stop does not leave a server running
process.once('exit', () => {
  for (const c of running) {
    try {
      execFileSync('runuser', ['-u', 'postgres', '--', `${BIN}/pg_ctl`, '-D', c.dataDir, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' });
    } catch {
      /* already stopped */
    }
    rmSync(c.root, { recursive: true, force: true });
  }
});

function postgresIds(): { uid: number; gid: number } {
  return {
    uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
  };
}

function asPostgres(args: string[], cwd?: string): string {
  return execFileSync('runuser', ['-u', 'postgres', '--', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

/** A CA, a server certificate for localhost / 127.0.0.1 signed by it, and an unrelated second CA. */
export function makeTlsFiles(dir: string, owner: { uid: number; gid: number }): TlsFiles {
  const days = '2';
  const ca = (name: string) => {
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', days, '-subj', `/CN=ingesta test ${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  };
  ca('ca');
  ca('other-ca');
  const sign = (name: string, subject: string, ext: string) => {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
    writeFileSync(path.join(dir, `${name}.ext`), ext);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', days, '-extfile', `${name}.ext`], dir);
    chmodSync(path.join(dir, `${name}.key`), 0o600);
  };
  sign('server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  chownSync(path.join(dir, 'server.key'), owner.uid, owner.gid);
  chownSync(path.join(dir, 'server.crt'), owner.uid, owner.gid);
  return {
    dir,
    caCert: path.join(dir, 'ca.crt'),
    otherCaCert: path.join(dir, 'other-ca.crt'),
    serverCert: path.join(dir, 'server.crt'),
    serverKey: path.join(dir, 'server.key'),
    clientCert(user: string) {
      const name = `client-${user.replace(/[^a-z0-9_]/gi, '_')}`;
      if (!existsSync(path.join(dir, `${name}.crt`))) sign(name, `/CN=${user}`, 'extendedKeyUsage=clientAuth\n');
      return { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
    },
  };
}

const initdb = (dataDir: string, cwd: string) =>
  asPostgres([`${BIN}/initdb`, '-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'], cwd);

/**
 * A fresh data folder: a copy of one initdb per test run (kept in the run's scratch folder, test/global-setup.ts),
 * which costs a fraction of an initdb; without a scratch folder (a helper used outside vitest's global setup), initdb.
 * The first process to need it runs initdb into a staging folder and renames it into place, so two workers racing
 * both end up copying a complete one.
 */
function initDataDir(dataDir: string, root: string, owner: { uid: number; gid: number }): void {
  const scratch = process.env[SCRATCH_DIR_ENV];
  if (!scratch || !existsSync(scratch)) {
    initdb(dataDir, root);
    return;
  }
  const template = path.join(scratch, `initdb-pg${path.basename(path.dirname(BIN))}`);
  if (!existsSync(template)) {
    const staging = mkdtempSync(path.join(scratch, 'initdb-staging-'));
    try {
      chownSync(staging, owner.uid, owner.gid);
      chmodSync(staging, 0o755);
      initdb(path.join(staging, 'data'), staging);
      try {
        renameSync(path.join(staging, 'data'), template);
      } catch {
        /* another worker put its copy in place first */
      }
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }
  execFileSync('cp', ['-a', template, dataDir]);
}

/** initdb + start, on a free port; retried on another port if the first one was taken meanwhile. */
export async function startPgCluster(options: PgClusterOptions): Promise<PgCluster> {
  const owner = postgresIds();
  const root = mkdtempSync(path.join(tmpdir(), 'ingesta-pg-'));
  chownSync(root, owner.uid, owner.gid);
  chmodSync(root, 0o755);
  const dataDir = path.join(root, 'data');
  const logFile = path.join(root, 'server.log');
  const entry = { dataDir, root };
  running.add(entry);
  let tls: TlsFiles | undefined;
  try {
    initDataDir(dataDir, root, owner);
    if (options.tls) tls = makeTlsFiles(root, owner);
    writeFileSync(
      path.join(dataDir, 'pg_hba.conf'),
      ['# written by test/helpers/pg-cluster.ts', 'local all all trust', ...options.hba, ''].join('\n'),
    );
    const settings: Record<string, string | number> = {
      listen_addresses: options.listen ?? '127.0.0.1',
      unix_socket_directories: root,
      max_connections: 30,
      shared_buffers: '16MB',
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      password_encryption: 'scram-sha-256',
      ...(tls ? { ssl: 'on', ssl_cert_file: tls.serverCert, ssl_key_file: tls.serverKey, ssl_ca_file: tls.caCert } : {}),
      ...options.settings,
    };
    let port = 0;
    for (let attempt = 0; ; attempt += 1) {
      port = await freePort();
      const conf = Object.entries({ ...settings, port }).map(([k, v]) => `${k} = '${String(v).replace(/'/g, "''")}'`);
      appendFileSync(path.join(dataDir, 'postgresql.conf'), `\n# test cluster\n${conf.join('\n')}\n`);
      try {
        asPostgres([`${BIN}/pg_ctl`, '-D', dataDir, '-l', logFile, '-w', '-t', '60', 'start'], root);
        break;
      } catch (error) {
        if (attempt >= 2) throw new Error(`the test cluster did not start: ${String(error)}\n${existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''}`);
      }
    }
    const admin = async (database = 'postgres') => {
      const client = new pg.Client({ host: root, port, user: 'postgres', database, types: raw });
      await client.connect();
      return client;
    };
    let stopped = false;
    return {
      port,
      socketDir: root,
      tls,
      admin,
      async exec(sql, database) {
        const client = await admin(database);
        try {
          for (const statement of typeof sql === 'string' ? [sql] : sql) await client.query(statement);
        } finally {
          await client.end();
        }
      },
      url(user, password, database, params = {}) {
        const u = new URL(`postgres://127.0.0.1:${port}/${encodeURIComponent(database)}`);
        u.username = encodeURIComponent(user);
        if (password !== undefined) u.password = encodeURIComponent(password);
        const query = Object.entries(params).map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
        return `${u.toString()}${query ? `?${query}` : ''}`;
      },
      log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          asPostgres([`${BIN}/pg_ctl`, '-D', dataDir, '-m', 'fast', '-w', 'stop'], root);
        } catch {
          try {
            asPostgres([`${BIN}/pg_ctl`, '-D', dataDir, '-m', 'immediate', '-w', 'stop'], root);
          } catch {
            /* not running */
          }
        }
        running.delete(entry);
        rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (error) {
    try {
      asPostgres([`${BIN}/pg_ctl`, '-D', dataDir, '-m', 'immediate', '-w', 'stop'], root);
    } catch {
      /* not started */
    }
    running.delete(entry);
    rmSync(root, { recursive: true, force: true });
    throw error;
  }
}
