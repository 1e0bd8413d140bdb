import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../src/index.js';
import { runCli, runCliMeasured, type CliResult } from '../helpers/cli.js';
import { duckQuery, duckTable, expectTableEqualsSource, withDuckDb } from '../helpers/duckdb.js';
import { startPgCluster, type PgCluster } from '../helpers/pg-cluster.js';
import { ADMIN_URL, connect, createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';
import { TEST_SECRETS, leakedSecrets } from '../helpers/secrets.js';

/**
 * The bad-input catalogue: each input gets a clear message, a non-zero exit with the right code, and nothing written
 * (no DuckDB file created, or the existing one's data and state unchanged; no load package left). What
 * test/integration/cli-errors.test.ts covers already (unknown table, refused port, missing database, DATABASE_*
 * refused, missing dev settings, --env staging, a wrong catalog field, a locked DuckDB file) and any-table.test.ts
 * (merge on a keyless table) is not repeated here.
 */
const DATASET = 'bad_input';
const WEIRD_TABLE = 'x"; DROP TABLE accounts; --';
let db: TestDatabase;
let dir: string;
let scram: PgCluster;
let asciiDb: string | undefined;
const mounts: string[] = [];
let n = 0;
/** DataVision accounts seeded: a full load's package (~1.4 kB of COPY text per account) must overflow the 128 kB tmpfs of the full-disk tests several times over. */
const ACCOUNTS = 400;

/** A fresh folder with a DuckDB path in it (not created). */
function fresh(name = 'bad'): string {
  const folder = path.join(dir, `${name}-${(n += 1)}`);
  mkdirSync(folder);
  return path.join(folder, `${name}.duckdb`);
}

const ingest = (file: string, args: string[] = [], env: Record<string, string> = {}) =>
  runCli(['--env', 'local', '--duckdb-path', file, '--dataset', DATASET, ...args], { DATABASE_URL: db.url, ...env });

/** One line on stderr, the exit code, no secret. */
function expectFailure(r: CliResult, code: number, ...texts: string[]): void {
  expect(r.code, r.stderr + r.stdout).toBe(code);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  for (const text of texts) expect(r.stderr).toContain(text);
  expect(leakedSecrets(r.stdout + r.stderr)).toEqual([]);
}

/** Nothing created: no DuckDB file, no package folder next to it. */
function expectNothingCreated(file: string): void {
  expect(existsSync(file), `${file} exists`).toBe(false);
  expect(existsSync(`${file}.wal`)).toBe(false);
  expect(existsSync(path.join(path.dirname(file), '.ingesta'))).toBe(false);
}

/** Every table of the dataset (data, state, loads, schema versions) but the run history, as digests. */
async function contentDigest(file: string): Promise<Record<string, string>> {
  const base = path.basename(file).replace(/\.[^.]*$/, '');
  return withDuckDb(file, async (query) => {
    const tables = await query(`SELECT table_name AS t FROM duckdb_tables() WHERE database_name = '${base}' AND schema_name = '${DATASET}' ORDER BY 1`);
    const out: Record<string, string> = {};
    for (const { t } of tables) {
      if (t === '_ingesta_runs') continue;
      const [row] = await query(`SELECT count(*)::VARCHAR || ':' || coalesce(md5(string_agg(CAST(x AS VARCHAR), chr(10) ORDER BY CAST(x AS VARCHAR))), '') AS d FROM ${duckTable(file, DATASET, String(t))} x`);
      out[String(t)] = String(row!.d);
    }
    return out;
  });
}

/** A DuckDB file holding a first load of accounts, and its content digest. */
async function loadedFile(name: string): Promise<{ file: string; digest: Record<string, string> }> {
  const file = fresh(name);
  const r = await ingest(file, ['--tables', 'accounts']);
  expect(r.code, r.stderr).toBe(0);
  return { file, digest: await contentDigest(file) };
}

/** No run folder left under a package root (the dataset and destination folders themselves may stay). */
function expectNoPackage(root: string): void {
  const base = path.join(root, DATASET);
  const runs = existsSync(base) ? readdirSync(base).flatMap((destination) => readdirSync(path.join(base, destination))) : [];
  expect(runs, `packages left in ${root}`).toEqual([]);
}

function mountTmpfs(target: string, size: string): void {
  mkdirSync(target, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', target]);
  mounts.push(target);
}

function unmountAll(): void {
  for (const target of mounts.splice(0).reverse()) {
    try {
      execFileSync('umount', [target], { stdio: 'ignore' });
    } catch {
      try {
        execFileSync('umount', ['-l', target], { stdio: 'ignore' });
      } catch {
        /* not mounted */
      }
    }
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDataVision(db, ACCOUNTS);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-bad-input-'));
  scram = await startPgCluster({ hba: ['host all all 127.0.0.1/32 scram-sha-256'] });
  await scram.exec([`CREATE ROLE ingest LOGIN PASSWORD '${TEST_SECRETS.badInputPassword}'`, 'CREATE DATABASE dv']);
});

afterAll(async () => {
  unmountAll();
  await db?.drop();
  if (asciiDb) {
    const admin = await connect(ADMIN_URL);
    await admin.query(`DROP DATABASE IF EXISTS ${asciiDb} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
  await scram?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('configuration and connection', () => {
  it('an unknown env from INGESTA_ENV, or from the library, is a configuration error (exit 2) and creates nothing', async () => {
    const file = fresh();
    expectFailure(await runCli(['--duckdb-path', file], { INGESTA_ENV: 'staging', DATABASE_URL: db.url }), 2, 'Unknown environment "staging"');
    expectNothingCreated(file);
    await expect(run({ env: 'staging' as 'local', duckdbPath: file, sourceUrl: db.url }, { env: {} })).rejects.toMatchObject({ exitCode: 2 });
    expectNothingCreated(file);
  });

  it('a wrong password on a SCRAM server: exit 3, the server\'s reason and a hint, nothing created', async () => {
    const file = fresh();
    const r = await runCli(['--env', 'local', '--duckdb-path', file], { DATABASE_URL: scram.url('ingest', TEST_SECRETS.wrongPassword, 'dv') });
    expectFailure(r, 3, `port=${scram.port} database=dv user=ingest`, 'password authentication failed for user "ingest"', 'check the user and password');
    expectNothingCreated(file);
  });

  it('no password at all for a SCRAM server: exit 3, saying a password is needed and where to give it', async () => {
    const file = fresh();
    const r = await runCli(['--env', 'local', '--duckdb-path', file], { DATABASE_URL: scram.url('ingest', undefined, 'dv'), HOME: dir });
    expectFailure(r, 3, 'the server asks for a password and none was given');
    expectNothingCreated(file);
  });

  it('an unreachable host: a name that does not resolve, and a port where no PostgreSQL answers', async () => {
    const file = fresh();
    expectFailure(await runCli(['--env', 'local', '--duckdb-path', file], { DATABASE_URL: 'postgres://u@no-such-host.invalid:5432/dv' }), 3, 'host=no-such-host.invalid', 'the host name does not resolve'); // ENOTFOUND, or EAI_AGAIN from a busy resolver
    expectNothingCreated(file);
    // something listens, but hangs up at once (a proxy with nothing behind it, another service)
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as net.AddressInfo;
      expectFailure(await runCli(['--env', 'local', '--duckdb-path', file], { DATABASE_URL: `postgres://u@127.0.0.1:${port}/dv` }), 3, 'without a PostgreSQL answer');
    } finally {
      server.close();
    }
    expectNothingCreated(file);
  });

  it.each([
    // regression: the YAML parser's multi-line excerpt made this error several lines on stderr
    ['unparsable YAML (one line, with the position)', 'version: 1\ntables:\n  accounts: { write_disposition: replace\n', 'is not valid YAML: Flow map in block collection must be sufficiently indented and end with a } at line 4, column 1.'],
    ['a list instead of a mapping', '- accounts\n- contents\n', 'is invalid'],
    ['an empty file', '', 'is invalid'],
    ['a relationship to an unknown table', 'version: 1\ntables:\n  accounts: {}\nrelationships:\n  - { table: accounts, columns: [a], references: nope, referenced_columns: [b] }\n', 'relationship names unknown table nope'],
    ['merge without a cursor column', 'version: 1\ntables:\n  accounts: { write_disposition: merge }\n', 'has write_disposition merge but no incremental.cursor_column'],
    ['an unknown key (a typo)', 'version: 1\ntables:\n  accounts: { primary_keys: [account_id] }\n', 'primary_keys'],
  ])('a malformed catalog (%s) exits 2 naming the file, and creates nothing', async (_what, text, message) => {
    const file = fresh();
    const catalog = path.join(path.dirname(file), 'catalog.yaml');
    writeFileSync(catalog, text);
    expectFailure(await ingest(file, ['--catalog', catalog]), 2, catalog, message);
    expectNothingCreated(file);
  });

  it('a missing catalog file exits 2 naming it', async () => {
    const file = fresh();
    const catalog = path.join(dir, 'no-such-catalog.yaml');
    expectFailure(await ingest(file, ['--catalog', catalog]), 2, `Cannot read the catalog file ${catalog}`);
    expectNothingCreated(file);
  });
});

describe('incremental cursors', () => {
  const catalog = () => {
    const file = path.join(dir, 'cursors.yaml');
    writeFileSync(
      file,
      [
        'version: 1',
        'tables:',
        '  some_null: { write_disposition: merge, incremental: { cursor_column: u } }',
        '  all_null: { write_disposition: merge, incremental: { cursor_column: u } }',
        '  no_cursor: { schema: public, write_disposition: merge, incremental: { cursor_column: updated_at } }',
        '',
      ].join('\n'),
    );
    return file;
  };

  beforeAll(async () => {
    await db.query(`CREATE TABLE some_null (id int PRIMARY KEY, v text, u timestamptz);
      INSERT INTO some_null VALUES (1, 'a', '2024-01-01'), (2, 'b', NULL), (3, 'c', '2024-01-02'), (4, 'd', NULL);
      CREATE TABLE all_null (id int PRIMARY KEY, v text, u timestamptz);
      INSERT INTO all_null VALUES (1, 'a', NULL), (2, 'b', NULL);
      CREATE TABLE no_cursor (id int PRIMARY KEY, v text, modified timestamptz);
      INSERT INTO no_cursor VALUES (1, 'a', now());`);
  });

  it('a cursor column missing in the source exits 2 naming it; an existing file keeps its data and state', async () => {
    const { file, digest } = await loadedFile('cursor');
    expectFailure(await ingest(file, ['--catalog', catalog(), '--tables', 'no_cursor']), 2, 'Table no_cursor', 'updated_at', 'do not exist in the source');
    expect(await contentDigest(file)).toEqual(digest);
    expectNoPackage(path.join(path.dirname(file), '.ingesta', 'packages'));
  });

  it('a first run failing after the connection leaves no DuckDB file behind (regression: an empty file was created)', async () => {
    const file = fresh();
    const r = await ingest(file, ['--catalog', catalog(), '--tables', 'no_cursor']);
    expect(r.code).toBe(2);
    expectNothingCreated(file);
  });

  it('NULL cursors (some or all): loaded, re-read on every run, and their changes merged (the documented rule)', async () => {
    const file = fresh('cursor');
    const summary = async (r: CliResult) => {
      expect(r.code, r.stderr).toBe(0);
      const line = r.stdout.split('\n').find((l) => l.includes('"run_finished"'))!;
      const tables = (JSON.parse(line) as { summary: { tables: { table: string; mode: string; rowsExtracted: number }[] } }).summary.tables;
      return Object.fromEntries(tables.map((t) => [t.table, t]));
    };
    const args = ['--catalog', catalog(), '--tables', 'some_null', 'all_null', '--log-format', 'json'];
    const first = await summary(await ingest(file, args));
    expect(first.some_null).toMatchObject({ mode: 'full', rowsExtracted: 4 });
    expect(first.all_null).toMatchObject({ mode: 'full', rowsExtracted: 2 });
    await db.query(`UPDATE some_null SET v = 'b2' WHERE id = 2; INSERT INTO some_null VALUES (5, 'e', NULL);
      UPDATE all_null SET v = 'a2' WHERE id = 1; INSERT INTO all_null VALUES (3, 'c', NULL)`);
    const second = await summary(await ingest(file, args));
    // some_null: the NULL rows 2, 4, 5 plus row 3 inside the lag window before the cursor 2024-01-02
    expect(second.some_null).toMatchObject({ mode: 'incremental', rowsExtracted: 4 });
    expect(second.all_null).toMatchObject({ rowsExtracted: 3 });
    for (const t of ['some_null', 'all_null']) await expectTableEqualsSource(db, file, DATASET, t, ['id']);
    const state = await duckQuery(file, `SELECT table_name, cursor_value FROM ${duckTable(file, DATASET, '_ingesta_state')} ORDER BY 1`);
    expect(state.find((s) => s.table_name === 'some_null')!.cursor_value).toBe('2024-01-02 00:00:00+00');
  });
});

describe('identifiers crafted for SQL injection', () => {
  const weirdColumns = ['id"; DROP TABLE accounts; --', 'semi;colon', 'dash--dash', 'with space', 'ünï cödé 😀', "'single'", 'back\\slash', 'a""b', 'updated at; --', '$1', '/* c */', 'Ω'];
  const q = (name: string) => `"${name.replace(/"/g, '""')}"`;

  beforeAll(async () => {
    await db.query(`CREATE TABLE ${q(WEIRD_TABLE)} (id int PRIMARY KEY, v text); INSERT INTO ${q(WEIRD_TABLE)} VALUES (1, 'one')`);
    await db.query(
      `CREATE TABLE weird (${weirdColumns.map((c, i) => `${q(c)} ${i === 0 || i === 7 ? 'int' : i === 8 ? 'timestamptz' : 'text'}${i === 0 ? ' PRIMARY KEY' : ''}`).join(', ')})`,
    );
    await db.query(`INSERT INTO weird VALUES
      (1, 'a;b', '--x', 's p', 'ü😀', '''q''', 'b\\s', 7, '2024-01-01 00:00:00+00', '$1', '/**/', 'ω'),
      (2, NULL, '', ' ', 'ñ', '"', '\\', NULL, NULL, NULL, NULL, 'x"); DROP TABLE accounts; --')`);
  });

  const sourceIntact = async () => {
    expect((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM accounts'))[0]!.n).toBe(String(ACCOUNTS));
  };

  it(`a table name with a quote outside quotes is a usage error: --tables 'x"; DROP TABLE accounts; --'`, async () => {
    const file = fresh();
    expectFailure(await ingest(file, ['--tables', WEIRD_TABLE]), 2, 'a quote may only enclose a whole name part');
    expectNothingCreated(file);
    // quoted, and not a table of the source: unknown
    expectFailure(await ingest(file, ['--tables', `"x""; DROP TABLE nope; --"`]), 2, 'Unknown table');
    expectNothingCreated(file);
    await sourceIntact();
  });

  it('a source table really named so, quoted on the command line, loads under its exact name and nothing else runs', async () => {
    const file = fresh();
    const r = await ingest(file, ['--tables', q(WEIRD_TABLE)]);
    expect(r.code, r.stderr).toBe(0);
    await expectTableEqualsSource(db, file, DATASET, WEIRD_TABLE, ['id']);
    await sourceIntact();
  });

  it('column names with quotes, semicolons, --, spaces and unicode load with the names kept, as a merge table on them', async () => {
    const file = fresh();
    const catalog = path.join(path.dirname(file), 'weird.yaml');
    writeFileSync(
      catalog,
      `version: 1\ntables:\n  weird:\n    primary_key: ${JSON.stringify([weirdColumns[0]])}\n    write_disposition: merge\n    incremental: { cursor_column: ${JSON.stringify(weirdColumns[8])} }\n    freshness_column: ${JSON.stringify(weirdColumns[8])}\n    severity: { freshness: warn }\n    checks:\n      - { column: ${JSON.stringify(weirdColumns[1])}, not_null: true, severity: warn }\n`,
    );
    const first = await ingest(file, ['--catalog', catalog, '--validar-calidad-datos']);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    await db.query(`UPDATE weird SET ${q('semi;colon')} = 'changed', ${q('updated at; --')} = now() WHERE ${q(weirdColumns[0]!)} = 1`);
    const second = await ingest(file, ['--catalog', catalog, '-v']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/weird\s+incremental/);
    const columns = await duckQuery(file, `SELECT column_name FROM duckdb_columns() WHERE schema_name = '${DATASET}' AND table_name = 'weird' ORDER BY column_index`);
    expect(columns.map((c) => c.column_name)).toEqual(weirdColumns);
    await expectTableEqualsSource(db, file, DATASET, 'weird', [weirdColumns[0]!]);
    const tables = await duckQuery(file, `SELECT table_name FROM duckdb_tables() WHERE schema_name = '${DATASET}' AND table_name NOT LIKE '\\_ingesta\\_%' ESCAPE '\\' ORDER BY 1`);
    expect(tables.map((t) => t.table_name)).toEqual(['weird']);
    await sourceIntact();
  });

  it(`a dataset name crafted to break out of quotes is refused (exit 2), in every env and from INGESTA_DATASET`, async () => {
    const file = fresh();
    const name = 'x"; DROP SCHEMA main; --';
    for (const r of [
      await runCli(['--env', 'local', '--duckdb-path', file, '--dataset', name], { DATABASE_URL: db.url }),
      await runCli(['--env', 'local', '--duckdb-path', file], { DATABASE_URL: db.url, INGESTA_DATASET: name }),
      await runCli(['--env', 'dev', '--dataset', name], { DATABASE_URL: db.url, BUCKET_URL: 's3://b/p', QUERY_RESULT_BUCKET: 's3://b/r/', REGION_NAME: 'eu-west-1' }),
      await runCli(['status', '--duckdb-path', file, '--dataset', name]),
    ]) {
      expectFailure(r, 2, `Dataset name "${name}" is not allowed`);
    }
    // Glue and Athena fold names to lower case: dev/prod refuse upper case instead of writing where no one looks
    expectFailure(await runCli(['--env', 'prod', '--dataset', 'Raw_DV'], { DATABASE_URL: db.url, BUCKET_URL: 's3://b/p', QUERY_RESULT_BUCKET: 's3://b/r/', REGION_NAME: 'eu-west-1' }), 2, 'use "raw_dv"');
    expectNothingCreated(file);
  });

  it('a dataset named like a DuckDB system schema (pg_catalog, information_schema) is refused with exit 2 (regression: exit 1, "unexpected error: Catalog Error: Schema with name pg_catalog does not exist!")', async () => {
    const file = fresh();
    for (const name of ['pg_catalog', 'INFORMATION_SCHEMA']) {
      expectFailure(await runCli(['--env', 'local', '--duckdb-path', file, '--dataset', name, '--tables', 'accounts'], { DATABASE_URL: db.url }), 2, `Dataset name "${name}" is not allowed: it is a system schema`);
    }
    expectNothingCreated(file);
  });
});

describe('an in-memory destination', () => {
  it('--duckdb-path :memory: (or DUCKDB_PATH) is exit 2 saying the load would be lost (regression: the run loaded into memory, exit 0, and nothing was kept)', async () => {
    for (const r of [
      await runCli(['--env', 'local', '--duckdb-path', ':memory:', '--tables', 'accounts'], { DATABASE_URL: db.url }),
      await runCli(['--env', 'local', '--tables', 'accounts'], { DATABASE_URL: db.url, DUCKDB_PATH: ':memory:' }),
    ]) {
      expectFailure(r, 2, `"${':memory:'}" is DuckDB's in-memory database: everything loaded would be lost`);
    }
  });
});

describe('data the destination cannot take', () => {
  it('invalid UTF-8 in a SQL_ASCII database: exit 3 naming the table, the bytes and how to fix them; the existing file keeps its data', async () => {
    asciiDb = `ingesta_ascii_${Date.now().toString(36)}`;
    const admin = await connect(ADMIN_URL);
    await admin.query(`CREATE DATABASE ${asciiDb} ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
    await admin.end();
    const url = new URL(ADMIN_URL);
    url.pathname = `/${asciiDb}`;
    const c = await connect(url.toString());
    await c.query(`CREATE TABLE latin (id int PRIMARY KEY, name text, ok text);
      INSERT INTO latin VALUES (1, 'plain', 'x'), (2, E'caf\\xe9 \\xff', 'y'), (3, 'ñ in UTF-8', 'z')`);
    await c.end();
    const file = fresh();
    // a first good load of the same dataset, from the valid table
    const good = await runCli(['--env', 'local', '--duckdb-path', file, '--dataset', DATASET, '--tables', 'accounts'], { DATABASE_URL: db.url });
    expect(good.code, good.stderr).toBe(0);
    const before = await contentDigest(file);
    const r = await runCli(['--env', 'local', '--duckdb-path', file, '--dataset', DATASET, '--tables', 'latin'], { DATABASE_URL: url.toString() });
    expectFailure(r, 3, 'public.latin', 'invalid byte sequence for encoding "UTF8": 0xe9 0x20 0xff', 'not valid UTF-8', 'convert them in the source');
    expect(await contentDigest(file)).toEqual(before);
    expectNoPackage(path.join(path.dirname(file), '.ingesta', 'packages'));
  });

  const runMeasured = (args: string[], env: Record<string, string>) => runCliMeasured(args, env, dir);

  const bigValue = async (table: string, tail: string) => {
    // 100 MiB of text, then a distinctive tail; small rows around it
    await db.query(`CREATE TABLE ${table} (id int PRIMARY KEY, v text);
      INSERT INTO ${table} SELECT g, 'small ' || g FROM generate_series(1, 1000) g;
      INSERT INTO ${table} VALUES (0, repeat('0123456789abcdef', 6553600) || ${tail})`);
  };

  /** Loaded exactly (row count, length and md5 of the big value), or failed clearly with nothing written. */
  async function expectExactOrClearFailure(table: string, mustLoad = false): Promise<void> {
    const file = fresh('big');
    const r = await runMeasured(['--env', 'local', '--duckdb-path', file, '--dataset', DATASET, '--tables', table], { DATABASE_URL: db.url });
    if (mustLoad) expect(r.code, r.stderr).toBe(0);
    // memory stays reasonable: well under the 100 MiB value times DuckDB's 16x default CSV buffer
    expect(r.maxRssKb, 'peak RSS (kB)').toBeLessThan(1_000_000);
    if (r.code === 0) {
      const [src] = await db.query<{ n: string; len: string; h: string }>(`SELECT count(*)::text AS n, (SELECT length(v)::text FROM ${table} WHERE id = 0) AS len, (SELECT md5(v) FROM ${table} WHERE id = 0) AS h FROM ${table}`);
      const [dst] = await duckQuery(file, `SELECT count(*)::VARCHAR AS n, (SELECT length(v)::VARCHAR FROM ${duckTable(file, DATASET, table)} WHERE id = 0) AS len, (SELECT md5(v) FROM ${duckTable(file, DATASET, table)} WHERE id = 0) AS h FROM ${duckTable(file, DATASET, table)}`);
      expect(dst, r.stdout).toEqual({ n: src!.n, len: src!.len, h: src!.h });
    } else {
      expect([4, 5]).toContain(r.code);
      expect(r.stderr).toMatch(/too long|line size|memory/i);
      expect(existsSync(file) ? await duckQuery(file, `SELECT * FROM duckdb_tables() WHERE table_name = '${table}'`) : []).toEqual([]);
    }
    expectNoPackage(path.join(path.dirname(file), '.ingesta', 'packages'));
  }

  // DuckDB 1.5's read_csv drops a 100 MiB last record without an error at its default line limit (1,001 rows read,
  // 1,000 loaded): every load now checks that all extracted rows were read, and reloads such a table with a line
  // limit and a buffer sized to its file (and a raised memory limit for that table only).
  it('a 100 MiB text value loads exactly (regression: DuckDB dropped the over-long record and the run exited 0)', async () => {
    await bigValue('big_plain', "'END'");
    await expectExactOrClearFailure('big_plain', true);
  });

  it('a 100 MiB value with quotes and a newline loads exactly (regression: "unterminated quote", exit 4)', async () => {
    await bigValue('big_quoted', `E'"quoted",\\n"END'`);
    await expectExactOrClearFailure('big_quoted', true);
  });
});

describe('destination file system', () => {
  it('a DuckDB file on a read-only file system: exit 5 saying so, the file unchanged; --solo-validar still reads it', async () => {
    const mountDir = path.join(dir, 'ro');
    mountTmpfs(mountDir, '64m');
    const file = path.join(mountDir, 'ro.duckdb');
    const packages = path.join(dir, 'ro-packages');
    const first = await ingest(file, ['--package-dir', packages]);
    expect(first.code, first.stderr).toBe(0);
    execFileSync('mount', ['-o', 'remount,ro', mountDir]);
    const bytes = readFileSync(file);
    await db.query(`UPDATE accounts SET account_name = account_name || '!' WHERE account_id = 1`);
    const r = await ingest(file, ['--package-dir', packages]);
    expectFailure(r, 5, `Cannot open the DuckDB file ${file}`, 'Read-only file system', 'writable');
    expect(readFileSync(file).equals(bytes)).toBe(true);
    expectNoPackage(packages);
    // a new file in that folder is refused the same way
    const other = path.join(mountDir, 'new.duckdb');
    expectFailure(await ingest(other, ['--package-dir', packages]), 5, 'Read-only file system');
    expect(existsSync(other)).toBe(false);
    // the quality gate alone opens the file read-only: it works
    const gate = await ingest(file, ['--solo-validar']);
    expect([0, 6], gate.stderr).toContain(gate.code);
    expect(readFileSync(file).equals(bytes)).toBe(true);
  });

  it('a full disk for the load package: a clear error, DuckDB data unchanged, the partial package removed; with space the next run succeeds', async () => {
    const packages = path.join(dir, 'full-packages');
    mountTmpfs(packages, '128k');
    const { file, digest } = await loadedFile('full');
    const r = await ingest(file, ['--package-dir', packages]);
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.code).not.toBe(1); // never "unexpected error"
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('the disk is full (ENOSPC)');
    expect(await contentDigest(file)).toEqual(digest);
    expectNoPackage(packages);
    const runs = await duckQuery(file, `SELECT status FROM ${duckTable(file, DATASET, '_ingesta_runs')} ORDER BY started_at`);
    expect(runs.map((x) => x.status)).toEqual(['loaded', 'failed']);
    execFileSync('mount', ['-o', 'remount,size=64m', packages]);
    const next = await ingest(file, ['--package-dir', packages]);
    expect(next.code, next.stderr).toBe(0);
    await expectTableEqualsSource(db, file, DATASET, 'content_attributes', ['attribute_id']);
    expectNoPackage(packages);
  });

  it('a full package disk exits 5 (destination / I/O) and names the package folder and --package-dir (regression: exit 3, as if the source failed)', async () => {
    const packages = path.join(dir, 'full-packages-2');
    mountTmpfs(packages, '128k');
    const { file } = await loadedFile('full2');
    const r = await ingest(file, ['--package-dir', packages]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(packages);
    expect(r.stderr).toContain('--package-dir');
  });
});
