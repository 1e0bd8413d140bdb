import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';

const SECRET = 'S3cr3t-pa55word-do-not-print';
let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDataVision(db, 20);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-cli-'));
});

afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

const noSecret = (r: { stdout: string; stderr: string }) => {
  expect(r.stdout).not.toContain(SECRET);
  expect(r.stderr).not.toContain(SECRET);
};

describe('help', () => {
  it('--help ends with examples and the exit codes; `ingesta help status` shows the command\'s help (regression: an error)', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Examples:\n  ingesta --env local /);
    for (const code of ['0', '1', '2', '3', '4', '5', '6', '130']) expect(help.stdout).toMatch(new RegExp(`\n  ${code} +\\w`));
    const status = await runCli(['help', 'status']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toContain('Usage: ingesta status [options]');
    expect(status.stdout).toContain('--runs <n>');
  });
});

describe('bad input: a clear message, a non-zero exit, nothing written', () => {
  it('an unknown table lists the known ones and creates nothing', async () => {
    const file = path.join(dir, 'unknown.duckdb');
    const r = await runCli(['--env', 'local', '--duckdb-path', file, '--tables', 'accounts', 'acounts'], { DATABASE_URL: db.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Unknown table "acounts"');
    expect(r.stderr).toContain('accounts, subscriptions, accounts_subscription, contents, content_attributes, premium_features, account_premium_features, subscription_payments');
    expect(existsSync(file)).toBe(false);
    expect(existsSync(path.join(dir, '.ingesta'))).toBe(false);
  });

  it('a refused connection prints one line with host, port, database and user, never the password', async () => {
    const file = path.join(dir, 'refused.duckdb');
    const r = await runCli(['--env', 'local', '--duckdb-path', file], {
      PGHOST: '127.0.0.1', PGPORT: '1', PGDATABASE: 'dv', PGUSER: 'ingest', PGPASSWORD: SECRET,
    });
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('host=127.0.0.1 port=1 database=dv user=ingest');
    noSecret(r);
    expect(existsSync(file)).toBe(false);
  });

  it('a missing database is named, and a password in the URL is not printed', async () => {
    const r = await runCli(['--env', 'local', '--duckdb-path', path.join(dir, 'm.duckdb'), '--source-url', `postgres://postgres:${SECRET}@127.0.0.1:5432/no_such_db_ingesta`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('database=no_such_db_ingesta');
    expect(r.stderr).toContain('does not exist');
    // regression: 'database "x" does not exist; the database does not exist' said it twice
    expect(r.stderr.match(/does not exist/g)).toHaveLength(1);
    noSecret(r);
  });

  it('an unknown table lists the tables the source has, and suggests the closest name (regression: catalog tables only)', async () => {
    await db.query('CREATE TABLE IF NOT EXISTS side_notes (id int PRIMARY KEY)');
    const r = await runCli(['--env', 'local', '--duckdb-path', path.join(dir, 'u2.duckdb'), '--tables', 'side_ntoes'], { DATABASE_URL: db.url });
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('Did you mean public.side_notes for "side_ntoes"?');
    expect(r.stderr).toMatch(new RegExp(`Tables in the source database ${db.name} visible to user postgres \\(\\d+\\): .*public\\.side_notes`));
  });

  it('a catalog table missing from the source names the database and user the run connected to (regression: neither was named)', async () => {
    const empty = await createTestDatabase();
    try {
      const r = await runCli(['--env', 'local', '--duckdb-path', path.join(dir, 'e.duckdb'), '--tables', 'accounts'], { DATABASE_URL: empty.url });
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`Table public.accounts does not exist in the source database ${empty.name} as user postgres, which sees no table at all there`);
    } finally {
      await empty.drop();
    }
  });

  it('the original container variables (DATABASE_*) are used, and their password stays hidden on failure', async () => {
    const r = await runCli(['--env', 'local', '--duckdb-path', path.join(dir, 'c.duckdb')], {
      DATABASE_HOST: '127.0.0.1', DATABASE_PORT: '1', DATABASE_NAME: 'datavision', DATABASE_USERNAME: 'etl', DATABASE_PASSWORD: SECRET,
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('host=127.0.0.1 port=1 database=datavision user=etl');
    noSecret(r);
  });

  it('dev and prod list the missing AWS settings before anything runs', async () => {
    const r = await runCli(['--env', 'dev'], { DATABASE_URL: db.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('BUCKET_URL');
    expect(r.stderr).toContain('QUERY_RESULT_BUCKET');
  });

  it('an unknown env value is a usage error', async () => {
    const r = await runCli(['--env', 'staging']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('staging');
  });

  it('a malformed catalog file names the file and the field', async () => {
    const catalog = path.join(dir, 'bad.yaml');
    writeFileSync(catalog, 'version: 1\ntables:\n  t:\n    primary_key: []\n    write_disposition: upsert\n');
    const r = await runCli(['--env', 'local', '--catalog', catalog, '--duckdb-path', path.join(dir, 'b.duckdb')], { DATABASE_URL: db.url });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(catalog);
    expect(r.stderr).toContain('write_disposition');
  });

  it('a DuckDB file held by another process is refused with a clear message, and left as it was', async () => {
    const file = path.join(dir, 'locked.duckdb');
    const holder = await DuckDBInstance.create(file);
    try {
      const r = await runCli(['--env', 'local', '--duckdb-path', file], { DATABASE_URL: db.url });
      // DuckDB's lock is per process: from another process the open fails
      expect(r.code).toBe(5);
      expect(r.stderr).toContain('is in use by another process');
    } finally {
      holder.closeSync();
    }
  });

  it('--help documents the flags and --version prints the version', async () => {
    const help = await runCli(['--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--env', '--tables', '--full-refresh', '--validar-calidad-datos', '--solo-validar', '--duckdb-path', '--dataset', '--source-url', '--lag', '--log-format']) {
      expect(help.stdout).toContain(flag);
    }
    const version = await runCli(['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
