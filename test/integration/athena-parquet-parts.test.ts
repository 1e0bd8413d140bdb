import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATAVISION_TABLES } from '../../src/demo/datavision-generator.js';
import { runCli } from '../helpers/cli.js';
import type { AthenaStandinServer } from '../helpers/athena-standin/server.js';
import { expectAthenaEqualsSource } from '../helpers/athena-compare.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';
import { KEYS } from '../helpers/datavision.js';
import { typingBegun } from '../helpers/packages.js';

const DATASET = 'raw_datavision_dev';

let db: TestDatabase;
let dir: string;
let lake: Lakehouse;
let aws: AthenaStandinServer;
let s3: S3Client;

async function parquetKeys(prefix: string): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!).filter((k) => k.endsWith('.parquet')).sort();
}

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDataVision(db, 1000);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-athena-parts-'));
  lake = await startLakehouse(dir);
  ({ aws, s3 } = lake);
});

afterAll(async () => {
  await lake?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

// #16: every table was written as one Parquet file, however large; Athena reads a table in parallel only across
// files. With a small INGESTA_PARQUET_FILE_SIZE a table of a few thousand rows is split, and both readers of the
// files — the Glue table of a full table and the staging table of an Iceberg MERGE — must read every one of them.
describe('--env dev: a table larger than INGESTA_PARQUET_FILE_SIZE is written as several Parquet files', () => {
  it('an invalid INGESTA_PARQUET_FILE_SIZE is a configuration error naming it, before anything runs', async () => {
    const r = await runCli(['--env', 'dev'], lake.env(db.url, { INGESTA_PARQUET_FILE_SIZE: 'huge' }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('INGESTA_PARQUET_FILE_SIZE');
    expect(aws.databases.has(DATASET)).toBe(false);
  });

  it('full tables and the MERGE batch of the Iceberg tables are split; every table read through Athena equals the source', async () => {
    const r = await runCli(['--env', 'dev'], lake.env(db.url, { INGESTA_PARQUET_FILE_SIZE: '16KB' }));
    expect(r.code, r.stderr + r.stdout).toBe(0);
    // a full (Parquet) table: the Glue table's folder holds several parts
    const payments = aws.tables.get(`${DATASET}.subscription_payments`)!.location.replace(/^s3:\/\/lake\//, '');
    const paymentParts = await parquetKeys(payments);
    expect(paymentParts.length).toBeGreaterThan(1);
    expect(paymentParts[0]).toMatch(/\/part-00000\.zstd\.parquet$/);
    // a merge (Iceberg) table: its batch folder, which the MERGE's staging table read, holds several parts
    const batches = await parquetKeys(`raw/${DATASET}/content_attributes/batches/`);
    expect(batches.length).toBeGreaterThan(1);
    for (const table of DATAVISION_TABLES) await expectAthenaEqualsSource(lake, db, DATASET, table, KEYS[table]!, `split files: ${table}`);
  });

  it('an incremental run merges its batch into the table built from split files; Athena equals the source', async () => {
    await db.query(`UPDATE content_attributes SET string_value = 'changed', updated_at = now() WHERE attribute_id % 3 = 0`);
    const r = await runCli(['--env', 'dev', '--tables', 'content_attributes', 'subscription_payments'], lake.env(db.url, { INGESTA_PARQUET_FILE_SIZE: '16KB' }));
    expect(r.code, r.stderr + r.stdout).toBe(0);
    for (const table of ['content_attributes', 'subscription_payments']) {
      await expectAthenaEqualsSource(lake, db, DATASET, table, KEYS[table]!, `second run: ${table}`);
    }
  });
});

// #16: every table was typed and checked before the first upload began. Now a table's files are uploaded as soon as
// it is typed, while the next tables are typed. Shown without timing: the S3 layer holds each Parquet upload until
// every table's typing has begun (its folder <table>.parquet exists in the package); an upload that arrived before
// that was in flight while later tables were typed. With uploads after the typing, none arrives before.
describe('--env dev: uploads overlap the typing of the next tables', () => {
  it('the first tables\' uploads are under way before the last tables are typed; Athena equals the source', async () => {
    const packages = path.join(dir, 'packages');
    const everyTableBegun = () => DATAVISION_TABLES.every((t) => typingBegun(packages, t));
    const early: string[] = [];
    lake.proxy.hold('PUT', /\.parquet$/, async (key) => {
      if (!everyTableBegun()) early.push(key);
      // (30 s at most: a regression fails below instead of hanging)
      for (const end = Date.now() + 30_000; !everyTableBegun() && Date.now() < end; ) await sleep(10);
    });
    try {
      await db.query(`UPDATE content_attributes SET string_value = 'overlap', updated_at = now() WHERE attribute_id % 5 = 0`);
      const r = await runCli(['--env', 'dev', '--full-refresh'], lake.env(db.url, { INGESTA_PARQUET_FILE_SIZE: '16KB' }));
      expect(r.code, r.stderr + r.stdout).toBe(0);
    } finally {
      lake.proxy.clearFaults();
    }
    expect(early.length, 'Parquet uploads that began before every table\'s typing had').toBeGreaterThan(0);
    expect(early.every((k) => k.startsWith(`raw/${DATASET}/`))).toBe(true);
    for (const table of DATAVISION_TABLES) await expectAthenaEqualsSource(lake, db, DATASET, table, KEYS[table]!, `overlapped upload: ${table}`);
  });
});
