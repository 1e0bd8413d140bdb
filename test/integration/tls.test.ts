import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSourceConnection } from '../../src/config/source-connection.js';
import { DATAVISION_TABLES, datavisionSql } from '../../src/demo/datavision-generator.js';
import { tlsSettings, transports } from '../../src/source/postgres/postgres-connection.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { duckQuery, expectTablesEqualSource } from '../helpers/duckdb.js';
import { KEYS } from '../helpers/datavision.js';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster.js';
import type { TestDatabase } from '../helpers/postgres.js';
import { TEST_SECRETS, leakedSecrets } from '../helpers/secrets.js';

/**
 * TLS to the source, against a private cluster that accepts only TLS from TCP clients (hostssl … scram-sha-256,
 * hostnossl … reject), with a test CA, a server certificate for localhost / 127.0.0.1, an unrelated CA, and a role
 * that logs in with a client certificate. Each sslmode must behave as libpq's does.
 */
const PASSWORD = TEST_SECRETS.tlsPassword;
const DATASET = 'raw_datavision_local';
let cluster: PgCluster;
let dir: string;
let seeded: pg.Client;
let n = 0;

/** A DuckDB path in a fresh folder of its own, so "nothing written" can be checked next to it. */
const file = () => {
  const folder = path.join(dir, `run-${(n += 1)}`);
  mkdirSync(folder);
  return path.join(folder, 'tls.duckdb');
};
/** ingest over TCP (127.0.0.1 unless given), password in the URL. */
const url = (params: Record<string, string> = {}, host = '127.0.0.1') =>
  cluster.url('ingest', PASSWORD, 'dv', params).replace('@127.0.0.1:', `@${host}:`);
const TABLES = ['--tables', 'accounts', 'subscriptions'];

function expectNoSecret(r: CliResult): void {
  expect(leakedSecrets(r.stdout + r.stderr)).toEqual([]);
}

/** A failed connection: exit 3 (or 2), one line on stderr, nothing created next to the DuckDB file. */
function expectRefused(r: CliResult, duckdb: string, code = 3): void {
  expect(r.code, r.stdout + r.stderr).toBe(code);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(existsSync(duckdb)).toBe(false);
  expect(existsSync(path.join(path.dirname(duckdb), '.ingesta'))).toBe(false);
  expectNoSecret(r);
}

async function expectLoaded(r: CliResult, duckdb: string, tables: readonly string[] = ['accounts', 'subscriptions']): Promise<void> {
  expect(r.code, r.stdout + r.stderr).toBe(0);
  expectNoSecret(r);
  for (const t of tables) {
    const [source] = (await seeded.query<{ n: string }>(`SELECT count(*)::text AS n FROM public.${t}`)).rows;
    const [dest] = await duckQuery(duckdb, `SELECT count(*)::VARCHAR AS n FROM ${DATASET}.${t}`);
    expect(String(dest!.n), t).toBe(source!.n);
  }
}

beforeAll(async () => {
  cluster = await startPgCluster({
    tls: true,
    listen: '127.0.0.1,127.0.0.2',
    settings: { log_connections: 'on' },
    hba: [
      'hostssl all ingesta_cert 127.0.0.0/8 cert',
      'hostssl all all 127.0.0.0/8 scram-sha-256',
      'hostnossl all all 127.0.0.0/8 reject',
    ],
  });
  await cluster.exec([
    `CREATE ROLE ingest LOGIN PASSWORD '${PASSWORD}'`,
    'CREATE ROLE ingesta_cert LOGIN',
    'CREATE DATABASE dv',
  ]);
  seeded = await cluster.admin('dv');
  await seeded.query("SET TimeZone = 'UTC'");
  for (const sql of datavisionSql({ accounts: 20 })) await seeded.query(sql);
  await seeded.query('GRANT USAGE ON SCHEMA public TO ingest, ingesta_cert; GRANT SELECT ON ALL TABLES IN SCHEMA public TO ingest, ingesta_cert');
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-tls-'));
});

afterAll(async () => {
  await seeded?.end().catch(() => undefined);
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('TLS to PostgreSQL, as libpq does it (server: TLS only, SCRAM passwords)', () => {
  it('PGSSLMODE=require encrypts without verifying: the 8 DataVision tables load, equal to the source', async () => {
    const duckdb = file();
    const r = await runCli(['--env', 'local', '--duckdb-path', duckdb], { DATABASE_URL: url(), PGSSLMODE: 'require' });
    await expectLoaded(r, duckdb, DATAVISION_TABLES);
    const db = { query: async (sql: string, params?: unknown[]) => (await seeded.query(sql, params)).rows } as unknown as TestDatabase;
    await expectTablesEqualSource(db, duckdb, DATASET, DATAVISION_TABLES.map((t) => [t, [KEYS[t]!]]));
  });

  it('verify-full with PGSSLROOTCERT = the CA works', async () => {
    const duckdb = file();
    const r = await runCli(['--env', 'local', '--duckdb-path', duckdb, ...TABLES], {
      DATABASE_URL: url(), PGSSLMODE: 'verify-full', PGSSLROOTCERT: cluster.tls!.caCert,
    });
    await expectLoaded(r, duckdb);
  });

  it('verify-full against a wrong CA fails with a clear message, exit 3, nothing written', async () => {
    const duckdb = file();
    const r = await runCli(['--env', 'local', '--duckdb-path', duckdb, ...TABLES], {
      DATABASE_URL: url(), PGSSLMODE: 'verify-full', PGSSLROOTCERT: cluster.tls!.otherCaCert,
    });
    expectRefused(r, duckdb);
    expect(r.stderr).toContain(`host=127.0.0.1 port=${cluster.port} database=dv user=ingest sslmode=verify-full`);
    expect(r.stderr).toContain('self-signed certificate in certificate chain');
    expect(r.stderr).toContain(`was not signed by the CA in "${cluster.tls!.otherCaCert}"`);
  });

  it('sslmode=disable is refused by the server, and the message says TLS is required', async () => {
    const duckdb = file();
    const r = await runCli(['--env', 'local', '--duckdb-path', duckdb, ...TABLES], { DATABASE_URL: url({ sslmode: 'disable' }) });
    expectRefused(r, duckdb);
    expect(r.stderr).toContain('pg_hba.conf rejects connection for host "127.0.0.1", user "ingest", database "dv", no encryption');
    expect(r.stderr).toContain('the server accepts only TLS connections from here: use sslmode=require');
  });

  it('the same settings in the URL: ?sslmode=verify-full&sslrootcert=… (right CA loads, wrong CA is refused)', async () => {
    const good = file();
    await expectLoaded(await runCli(['--env', 'local', '--duckdb-path', good, ...TABLES], {
      DATABASE_URL: url({ sslmode: 'verify-full', sslrootcert: cluster.tls!.caCert }),
    }), good);
    const bad = file();
    // the URL beats PGSSLROOTCERT, field by field
    const r = await runCli(['--env', 'local', '--duckdb-path', bad, ...TABLES, '--source-url', url({ sslmode: 'verify-full', sslrootcert: cluster.tls!.otherCaCert })], {
      PGSSLROOTCERT: cluster.tls!.caCert,
    });
    expectRefused(r, bad);
    expect(r.stderr).toContain('other-ca.crt');
  });

  it('the container variables: DATABASE_HOST/PORT/NAME/USERNAME/PASSWORD with PGSSLMODE / PGSSLROOTCERT', async () => {
    const duckdb = file();
    const env = {
      DATABASE_HOST: '127.0.0.1', DATABASE_PORT: String(cluster.port), DATABASE_NAME: 'dv', DATABASE_USERNAME: 'ingest', DATABASE_PASSWORD: PASSWORD,
      PGSSLMODE: 'verify-full', PGSSLROOTCERT: cluster.tls!.caCert,
    };
    await expectLoaded(await runCli(['--env', 'local', '--duckdb-path', duckdb, ...TABLES], env), duckdb);
    const refused = file();
    expectRefused(await runCli(['--env', 'local', '--duckdb-path', refused, ...TABLES], { ...env, PGSSLMODE: 'disable' }), refused);
  });

  it('verify-full checks the host name, verify-ca only the chain (127.0.0.2 is not in the certificate)', async () => {
    const full = file();
    const r = await runCli(['--env', 'local', '--duckdb-path', full, ...TABLES], {
      DATABASE_URL: url({ sslmode: 'verify-full', sslrootcert: cluster.tls!.caCert }, '127.0.0.2'),
    });
    expectRefused(r, full);
    expect(r.stderr).toContain('is not issued for "127.0.0.2"');
    const ca = file();
    await expectLoaded(await runCli(['--env', 'local', '--duckdb-path', ca, ...TABLES], {
      DATABASE_URL: url({ sslmode: 'verify-ca', sslrootcert: cluster.tls!.caCert }, '127.0.0.2'),
    }), ca);
    // and by name: "localhost" is in the certificate
    const named = file();
    await expectLoaded(await runCli(['--env', 'local', '--duckdb-path', named, ...TABLES], {
      DATABASE_URL: url({ sslmode: 'verify-full', sslrootcert: cluster.tls!.caCert }, 'localhost'),
    }), named);
  });

  it('prefer (the default) and allow reach a TLS-only server: prefer starts with TLS, allow falls back to it', async () => {
    for (const mode of [undefined, 'prefer', 'allow']) {
      const duckdb = file();
      const r = await runCli(['--env', 'local', '--duckdb-path', duckdb, '--tables', 'accounts'], { DATABASE_URL: url(mode ? { sslmode: mode } : {}) });
      await expectLoaded(r, duckdb, ['accounts']);
    }
  });

  it('require with a root certificate file verifies the chain (libpq: then require = verify-ca)', async () => {
    const duckdb = file();
    const r = await runCli(['--env', 'local', '--duckdb-path', duckdb, ...TABLES], {
      DATABASE_URL: url({ sslmode: 'require' }), PGSSLROOTCERT: cluster.tls!.otherCaCert,
    });
    expectRefused(r, duckdb);
    expect(r.stderr).toContain('self-signed certificate in certificate chain');
  });

  it('~/.postgresql/root.crt is the default root file; verify-full without any is a configuration error naming it', async () => {
    const home = mkdtempSync(path.join(dir, 'home-'));
    const missing = file();
    const r = await runCli(['--env', 'local', '--duckdb-path', missing, ...TABLES], { DATABASE_URL: url({ sslmode: 'verify-full' }), HOME: home });
    expectRefused(r, missing, 2);
    expect(r.stderr).toContain(`root certificate file "${path.join(home, '.postgresql', 'root.crt')}" does not exist`);
    expect(r.stderr).toContain('sslrootcert=system');
    mkdirSync(path.join(home, '.postgresql'));
    copyFileSync(cluster.tls!.caCert, path.join(home, '.postgresql', 'root.crt'));
    const found = file();
    await expectLoaded(await runCli(['--env', 'local', '--duckdb-path', found, ...TABLES], { DATABASE_URL: url({ sslmode: 'verify-full' }), HOME: home }), found);
  });

  it('sslrootcert=system: the system roots (which do not hold the test CA) and only with verify-full', async () => {
    const duckdb = file();
    const r = await runCli(['--env', 'local', '--duckdb-path', duckdb, ...TABLES], { DATABASE_URL: url({ sslrootcert: 'system' }) });
    expectRefused(r, duckdb);
    expect(r.stderr).toContain('sslmode=verify-full');
    const weak = await runCli(['--env', 'local', '--duckdb-path', duckdb, ...TABLES], { DATABASE_URL: url({ sslrootcert: 'system', sslmode: 'require' }) });
    expectRefused(weak, duckdb, 2);
    expect(weak.stderr).toContain('may not be used with sslrootcert=system');
  });

  it('a client certificate (sslcert / sslkey, PGSSLCERT / PGSSLKEY) logs in a cert-authenticated role', async () => {
    const { cert, key } = cluster.tls!.clientCert('ingesta_cert');
    const certUrl = (params: Record<string, string>) => cluster.url('ingesta_cert', undefined, 'dv', params);
    const viaEnv = file();
    await expectLoaded(await runCli(['--env', 'local', '--duckdb-path', viaEnv, ...TABLES], {
      DATABASE_URL: certUrl({ sslmode: 'verify-full' }), PGSSLROOTCERT: cluster.tls!.caCert, PGSSLCERT: cert, PGSSLKEY: key,
    }), viaEnv);
    const viaUrl = file();
    await expectLoaded(await runCli(['--env', 'local', '--duckdb-path', viaUrl, ...TABLES], {
      DATABASE_URL: certUrl({ sslmode: 'verify-full', sslrootcert: cluster.tls!.caCert, sslcert: cert, sslkey: key }),
    }), viaUrl);
    // none given (and none in ~/.postgresql): the server asks for one
    const none = file();
    const r = await runCli(['--env', 'local', '--duckdb-path', none, ...TABLES], {
      DATABASE_URL: certUrl({ sslmode: 'require' }), HOME: mkdtempSync(path.join(dir, 'home-')),
    });
    expectRefused(r, none);
    expect(r.stderr).toContain('the server wants a client certificate');
    // a key others can read is refused before connecting, as libpq does
    chmodSync(key, 0o644);
    try {
      const open = file();
      const e = await runCli(['--env', 'local', '--duckdb-path', open, ...TABLES], {
        DATABASE_URL: certUrl({ sslmode: 'require', sslcert: cert, sslkey: key }),
      });
      expectRefused(e, open, 2);
      expect(e.stderr).toContain(`private key file "${key}" has group or world access`);
    } finally {
      chmodSync(key, 0o600);
    }
  });

  it('a wrong password over TLS is refused (exit 3) without echoing either password', async () => {
    const duckdb = file();
    const r = await runCli(['--env', 'local', '--duckdb-path', duckdb, ...TABLES], {
      DATABASE_URL: cluster.url('ingest', TEST_SECRETS.wrongPassword, 'dv', { sslmode: 'verify-full', sslrootcert: cluster.tls!.caCert }),
    });
    expectRefused(r, duckdb);
    expect(r.stderr).toContain('password authentication failed for user "ingest"');
  });

  it('a missing password: one line saying the server asked for one, not the driver\'s internals (regression: "SASL: … client password must be a string")', async () => {
    const duckdb = file();
    const r = await runCli(['--env', 'local', '--duckdb-path', duckdb, ...TABLES], {
      DATABASE_URL: cluster.url('ingest', undefined, 'dv', { sslmode: 'verify-full', sslrootcert: cluster.tls!.caCert }),
    });
    expectRefused(r, duckdb);
    expect(r.stderr).toContain('the server asks for a password and none was given');
    expect(r.stderr).toContain('set DATABASE_PASSWORD or PGPASSWORD');
    expect(r.stderr).not.toMatch(/SASL|must be a string/);
  });

  it('a misspelt URL parameter is refused (exit 2), never silently ignored: ?sslmdoe=require', async () => {
    const duckdb = file();
    const r = await runCli(['--env', 'local', '--duckdb-path', duckdb, ...TABLES], { DATABASE_URL: `${url()}?sslmdoe=require` });
    expectRefused(r, duckdb, 2);
    expect(r.stderr).toContain('"sslmdoe"');
  });

  it('the server log shows every connection of ingesta was over TLS, and no password', () => {
    const log = cluster.log();
    const authorized = log.split('\n').filter((l) => /connection authorized: user=(ingest|ingesta_cert) /.test(l));
    expect(authorized.length).toBeGreaterThan(10);
    for (const line of authorized) expect(line).toContain('SSL enabled');
    expect(leakedSecrets(log)).toEqual([]);
  });
});

describe('which attempts each sslmode makes (libpq rules)', () => {
  const source = (env: Record<string, string>, u = 'postgres://u@db.example/d') => resolveSourceConnection(env, u);
  const kinds = (env: Record<string, string>, u?: string) => transports(source(env, u), '/nonexistent-home').map((t) => (t.tls ? 'tls' : 'plain'));

  it('disable: plain; allow: plain then TLS; prefer (default): TLS then plain; require/verify-*: TLS only', () => {
    expect(kinds({ PGSSLMODE: 'disable' })).toEqual(['plain']);
    expect(kinds({ PGSSLMODE: 'allow' })).toEqual(['plain', 'tls']);
    expect(kinds({})).toEqual(['tls', 'plain']);
    expect(kinds({ PGSSLMODE: 'require' })).toEqual(['tls']);
    expect(kinds({ PGSSLMODE: 'verify-ca' })).toEqual(['tls']);
    expect(kinds({ PGSSLMODE: 'verify-full' })).toEqual(['tls']);
  });

  it('a Unix socket never uses TLS, whatever sslmode says (as libpq)', () => {
    expect(kinds({ PGSSLMODE: 'verify-full' }, 'postgres:///d?host=/var/run/postgresql')).toEqual(['plain']);
  });

  it('require verifies nothing without a root file, the chain with one; verify-full also the host', () => {
    expect(tlsSettings(source({ PGSSLMODE: 'require' }), '/nonexistent-home').verify).toBe('none');
    expect(tlsSettings(source({ PGSSLMODE: 'require', PGSSLROOTCERT: cluster.tls!.caCert }), '/nonexistent-home').verify).toBe('ca');
    // an explicit root file that does not exist: libpq goes on without verification for require
    expect(tlsSettings(source({ PGSSLMODE: 'require', PGSSLROOTCERT: path.join(dir, 'nope.crt') }), '/nonexistent-home').verify).toBe('none');
    expect(tlsSettings(source({ PGSSLMODE: 'verify-ca', PGSSLROOTCERT: cluster.tls!.caCert }), '/nonexistent-home').verify).toBe('ca');
    const full = tlsSettings(source({ PGSSLMODE: 'verify-full', PGSSLROOTCERT: cluster.tls!.caCert }), '/nonexistent-home');
    expect(full.verify).toBe('full');
    expect(full.node.rejectUnauthorized).toBe(true);
  });

  it('URL parameters as libpq: dbname / user / password / host beat the authority; ignored ones pass; a typo is refused', () => {
    const s = resolveSourceConnection({}, 'postgres://a@h/one?dbname=two&user=b&password=pw&connect_timeout=10&application_name=x');
    expect(s).toMatchObject({ database: 'two', user: 'b', password: 'pw', host: 'h' });
    expect(() => resolveSourceConnection({}, 'postgres://h/d?sslmdoe=require')).toThrow(/"sslmdoe"/);
    expect(() => resolveSourceConnection({}, 'postgres://h/d?sslcrl=/x.crl')).toThrow(/does not support: "sslcrl"/);
  });

  it('PGSSLCERT / PGSSLKEY and ?sslcert= / ?sslkey= are read, the URL first', () => {
    const s = resolveSourceConnection({ PGSSLCERT: '/env/c.crt', PGSSLKEY: '/env/c.key' }, 'postgres://u@h/d?sslcert=/url/c.crt');
    expect(s.sslCert).toBe('/url/c.crt');
    expect(s.sslKey).toBe('/env/c.key');
  });
});
