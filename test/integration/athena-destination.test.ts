import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATAVISION_TABLES } from '../../src/demo/datavision-generator.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import type { FakeAws } from '../helpers/fake-aws.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';
import { KEYS } from '../helpers/datavision.js';

const SECRET = 'Pg-S3cret-never-printed';
const DATASET = 'raw_datavision_dev';

let db: TestDatabase;
let dir: string;
let lake: Lakehouse;
let fake: FakeAws;
let s3: S3Client;

function env(extra: Record<string, string> = {}): Record<string, string> {
  const url = new URL(db.url);
  url.password = ''; // trust auth: the password below is never needed, but must never be printed
  return lake.env(url.toString(), { PGPASSWORD: SECRET, ...extra });
}

async function listKeys(prefix: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

/** Downloads every Parquet file under a prefix and reads them with DuckDB, sorted by key. */
async function readParquet(prefix: string, orderBy: string, select = '*'): Promise<Record<string, unknown>[]> {
  const local = mkdtempSync(path.join(dir, 'pq-'));
  const keys = (await listKeys(prefix)).filter((k) => k.endsWith('.parquet'));
  for (const [i, key] of keys.entries()) {
    const body = await (await s3.send(new GetObjectCommand({ Bucket: 'lake', Key: key }))).Body!.transformToByteArray();
    writeFileSync(path.join(local, `${i}.parquet`), body);
  }
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  await c.run("SET TimeZone = 'UTC'");
  const rows = (await c.runAndReadAll(`SELECT ${select} FROM read_parquet('${local}/*.parquet') ORDER BY ${orderBy}`)).getRowObjectsJS();
  c.closeSync();
  instance.closeSync();
  return rows as Record<string, unknown>[];
}

function expectNoSecret(r: CliResult): void {
  expect(r.stdout).not.toContain(SECRET);
  expect(r.stderr).not.toContain(SECRET);
}

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDataVision(db, 60);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-athena-'));
  lake = await startLakehouse(dir);
  ({ fake, s3 } = lake);
});

afterAll(async () => {
  await lake?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('--env dev: Parquet in S3, tables in Glue, Iceberg merges through Athena', () => {
  it('lists every missing setting in one error and runs nothing', async () => {
    const r = await runCli(['--env', 'prod'], { DATABASE_URL: db.url });
    expect(r.code).toBe(2);
    for (const name of ['BUCKET_URL', 'QUERY_RESULT_BUCKET', 'REGION_NAME']) expect(r.stderr).toContain(name);
  });

  it('first load: Glue database and 8 tables (Iceberg for the incremental two), Parquet equal to the source', async () => {
    const r = await runCli(['--env', 'dev'], env());
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expectNoSecret(r);
    expect(fake.databases.has(DATASET)).toBe(true);
    for (const table of DATAVISION_TABLES) expect(fake.tables.has(`${DATASET}.${table}`), table).toBe(true);
    for (const table of ['contents', 'content_attributes']) {
      const t = fake.tables.get(`${DATASET}.${table}`) as { Parameters: Record<string, string> };
      expect(t.Parameters.table_type).toBe('ICEBERG');
    }
    const accounts = fake.tables.get(`${DATASET}.accounts`) as { StorageDescriptor: { Location: string; Columns: { Name: string; Type: string }[] } };
    expect(accounts.StorageDescriptor.Location).toMatch(/^s3:\/\/lake\/raw\/raw_datavision_dev\/accounts\/data\/[^/]+\/$/);
    expect(accounts.StorageDescriptor.Columns).toEqual([
      { Name: 'account_id', Type: 'int' },
      { Name: 'account_name', Type: 'string' },
      { Name: 'email', Type: 'string' },
      { Name: 'created_at', Type: 'timestamp' },
      { Name: 'updated_at', Type: 'timestamp' },
    ]);
    // every table's Parquet holds exactly the source's rows
    for (const table of DATAVISION_TABLES) {
      const key = KEYS[table]!;
      const rows = await readParquet(`raw/${DATASET}/${table}/`, key);
      const source = await db.query(`SELECT ${key}::text AS k FROM ${table} ORDER BY ${key}`);
      expect(rows.map((x) => String(x[key])), table).toEqual(source.map((x) => x.k));
    }
    // faithful types in the files: DECIMAL(10,2), microsecond timestamps, integers
    const prices = await readParquet(`raw/${DATASET}/premium_features/`, 'feature_id', 'feature_id, CAST(base_price AS VARCHAR) AS p, typeof(base_price) AS t, CAST(updated_at AS VARCHAR) AS u');
    const src = await db.query(`SELECT base_price::text AS p, updated_at::text AS u FROM premium_features ORDER BY feature_id`);
    expect(prices.map((p) => String(p.p))).toEqual(src.map((p) => p.p));
    expect(prices.map((p) => String(p.u))).toEqual(src.map((p) => p.u));
    expect(prices[0]!.t).toBe('DECIMAL(10,2)');
    const created = await readParquet(`raw/${DATASET}/accounts/`, 'account_id', 'CAST(created_at AS VARCHAR) AS c, typeof(account_id) AS t');
    const srcCreated = await db.query(`SELECT (created_at AT TIME ZONE 'UTC')::text AS c FROM accounts ORDER BY account_id`);
    expect(created.map((x) => String(x.c))).toEqual(srcCreated.map((x) => x.c));
    expect(created[0]!.t).toBe('INTEGER');
    // MERGE went to Athena for the incremental tables, through a staging table
    expect(fake.statements.filter((s) => s.startsWith('MERGE INTO')).length).toBe(2);
    expect(fake.statements.join('\n')).not.toContain(SECRET);
    expect(fake.bodies.join('\n')).not.toContain(SECRET);
    expect([...fake.tables.keys()].some((k) => k.endsWith('__ingesta_stage'))).toBe(false);
    // state and run record in the lakehouse
    const keys = await listKeys(`raw/${DATASET}/_ingesta/`);
    expect(keys).toContain(`raw/${DATASET}/_ingesta/state.json`);
    expect(keys.some((k) => k.includes('/_ingesta/runs/'))).toBe(true);
    expect(keys).not.toContain(`raw/${DATASET}/_ingesta/lock.json`);
    for (const k of await listKeys('raw/')) expect(k).not.toContain(SECRET);
  });

  it('second run: incremental batch merged, full tables repointed to new files; the old ones kept for queries still reading them', async () => {
    const before = (fake.tables.get(`${DATASET}.accounts`) as { StorageDescriptor: { Location: string } }).StorageDescriptor.Location;
    await db.query(`UPDATE contents SET title = 'changed', updated_at = now() WHERE content_id % 10 = 0`);
    await db.query(`DELETE FROM subscription_payments WHERE payment_id % 5 = 0`);
    const r = await runCli(['--env', 'dev'], env());
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const after = (fake.tables.get(`${DATASET}.accounts`) as { StorageDescriptor: { Location: string } }).StorageDescriptor.Location;
    expect(after).not.toBe(before);
    // regression: the previous folder was deleted right after the repoint, failing the queries still reading it
    const oldPrefix = before.replace('s3://lake/', '');
    expect((await listKeys(oldPrefix)).length).toBeGreaterThan(0);
    const paymentsAt = (fake.tables.get(`${DATASET}.subscription_payments`) as { StorageDescriptor: { Location: string } }).StorageDescriptor.Location;
    const payments = await readParquet(paymentsAt.replace('s3://lake/', ''), 'payment_id');
    const src = await db.query(`SELECT count(*)::int AS n FROM subscription_payments`);
    expect(payments.length).toBe(Number(src[0]!.n));
    const merges = fake.statements.filter((s) => s.startsWith('MERGE INTO'));
    expect(merges.length).toBe(4);
    // the batch of the incremental run holds only the changed rows (and the lag window)
    const batches = (await listKeys(`raw/${DATASET}/contents/batches/`)).filter((k) => k.endsWith('.parquet'));
    expect(batches.length).toBe(2);
  });

  it('killed after the data step, before state: tables stay readable; the next run cleans up and completes', async () => {
    await db.query(`UPDATE contents SET title = 'crash round', updated_at = now() WHERE content_id % 7 = 0`);
    const killed = await runCli(['--env', 'dev'], env({ INGESTA_CRASH_AT: 'before-commit', INGESTA_LOCK_STALE_AFTER: '10s' }));
    expect(killed.signal).toBe('SIGKILL');
    // Glue points at the new files, which exist: readers are fine even though state.json is behind
    const location = (fake.tables.get(`${DATASET}.accounts`) as { StorageDescriptor: { Location: string } }).StorageDescriptor.Location;
    expect((await listKeys(location.replace('s3://lake/', ''))).length).toBeGreaterThan(0);
    // the lock of the killed run is still there, no longer renewed: once stale (here after 10 s instead of 5 minutes)
    // the next run takes it over on its own and says so (regression: a killed run blocked the dataset for 6 hours)
    const refused = await runCli(['--env', 'dev'], env({ INGESTA_LOCK_STALE_AFTER: '10s' }));
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(/locked by another ingesta run .*a lock not renewed for 10 s belongs to a dead run and is taken over/);
    await new Promise((r) => setTimeout(r, 10_500));
    // superseded folders are kept for INGESTA_KEEP_SUPERSEDED (1 hour by default; 0 here) after their replacement
    const next = await runCli(['--env', 'dev'], env({ INGESTA_LOCK_STALE_AFTER: '10s', INGESTA_KEEP_SUPERSEDED: '0' }));
    expect(next.code, next.stderr + next.stdout).toBe(0);
    expect(next.stderr).toMatch(/warning: taking over the lock of run .*not renewed since/);
    // left: the folder Glue pointed at when the last load began (superseded now, removed by a later run) and the
    // new one (the next run may first complete the killed run's package, then load its own: one load each)
    const folders = new Set((await listKeys(`raw/${DATASET}/accounts/data/`)).map((k) => `s3://lake/${k.split('/').slice(0, -1).join('/')}/`));
    const current = (fake.tables.get(`${DATASET}.accounts`) as { StorageDescriptor: { Location: string } }).StorageDescriptor.Location;
    expect(folders.has(current), next.stdout).toBe(true);
    expect(folders.size, next.stdout).toBeLessThanOrEqual(2);
    const rows = await readParquet(current.replace('s3://lake/', ''), 'account_id');
    expect(rows.length).toBe(Number((await db.query(`SELECT count(*)::int AS n FROM accounts`))[0]!.n));
  });

  it('--solo-validar on Athena renders every check in Athena SQL, one query each, and writes nothing', async () => {
    const before = fake.statements.length;
    const stateBefore = await listKeys(`raw/${DATASET}/_ingesta/`);
    const r = await runCli(['--env', 'dev', '--solo-validar', '--tables', 'contents', 'content_attributes'], env());
    // the stand-in returns no rows, so the checks cannot pass; what matters here is what was asked of Athena
    expect([0, 6]).toContain(r.code);
    const sent = fake.statements.slice(before);
    // clean (here: empty) results cost one pass per check; examples (array_join) are fetched only for findings
    expect(sent.some((q) => q.includes('HAVING count(*) > 1'))).toBe(true);
    expect(sent.some((q) => q.includes('array_join(array_agg('))).toBe(false);
    expect(sent.some((q) => q.includes('to_unixtime(current_timestamp)'))).toBe(true);
    expect(sent.some((q) => q.includes('"raw_datavision_dev"."content_attributes" AS c') && q.includes('NOT EXISTS'))).toBe(true);
    expect(sent.length).toBeLessThanOrEqual(8);
    expect(await listKeys(`raw/${DATASET}/_ingesta/`)).toEqual(stateBefore);
  });

  it('status and reset work on the lakehouse state in S3', async () => {
    const status = await runCli(['status', '--env', 'dev', '--log-format', 'json'], env());
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as { tables: { table: string; cursorValue: string | null }[]; runs: { status: string }[] };
    expect(report.tables.find((t) => t.table === 'contents')!.cursorValue).not.toBeNull();
    expect(report.runs[0]!.status).toBe('loaded');
    const reset = await runCli(['reset', '--env', 'dev', '--tables', 'contents'], env());
    expect(reset.code, reset.stderr).toBe(0);
    const state = JSON.parse(
      await (await s3.send(new GetObjectCommand({ Bucket: 'lake', Key: `raw/${DATASET}/_ingesta/state.json` }))).Body!.transformToString(),
    ) as { tables: Record<string, { cursor?: unknown }> };
    expect(state.tables.contents!.cursor).toBeUndefined();
    expect(state.tables.content_attributes!.cursor).toBeDefined();
    expect(await listKeys(`raw/${DATASET}/_ingesta/lock.json`)).toEqual([]);
  });

  it('a held lock refuses a second run with a clear message', async () => {
    await s3.send(
      new (await import('@aws-sdk/client-s3')).PutObjectCommand({
        Bucket: 'lake',
        Key: `raw/${DATASET}/_ingesta/lock.json`,
        Body: JSON.stringify({ host: 'other-task', pid: 7, started_at: new Date().toISOString() }),
      }),
    );
    const r = await runCli(['--env', 'dev'], env());
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('locked by another ingesta run (other-task');
    await s3.send(new (await import('@aws-sdk/client-s3')).DeleteObjectCommand({ Bucket: 'lake', Key: `raw/${DATASET}/_ingesta/lock.json` }));
  });
});


