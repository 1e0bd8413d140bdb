import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAthenaEqualsSource } from '../helpers/athena-compare.js';
import { runCli } from '../helpers/cli.js';
import { KEYS } from '../helpers/datavision.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';
import { liveAthena, type LiveAthena } from '../live/live-athena.js';

/**
 * The live check's Athena reader (test/live/live-athena.ts: Glue GetTables + AthenaQueryRunner through the AWS SDK)
 * pointed at the loopback stand-in instead of AWS: it must see the same tables (kind, columns) as the stand-in's own
 * view, and the same value-by-value comparison must pass through it. What real Athena returns is not tested here.
 */
const DATASET = 'ingesta_live_000000000000';
let db: TestDatabase;
let dir: string;
let lake: Lakehouse;
let reader: LiveAthena;

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDataVision(db, 20);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-live-reader-'));
  lake = await startLakehouse(dir);
  const env = lake.env(db.url);
  reader = liveAthena({
    region: env.REGION_NAME!,
    workGroup: env.ATHENA_WORK_GROUP!,
    database: DATASET,
    outputLocation: env.QUERY_RESULT_BUCKET!,
    credentials: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_SESSION_TOKEN: 'none' },
    endpoint: lake.aws.url,
  });
});

afterAll(async () => {
  reader?.close();
  await lake?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the live check reads Athena through the AWS SDK in the shape of the loopback comparison', () => {
  it('after a full dev load: the same 8 Glue tables (kind, columns) as the stand-in, and every table equals the source through it', async () => {
    const r = await runCli(['--env', 'dev', '--dataset', DATASET], lake.env(db.url));
    expect(r.code, r.stderr + r.stdout).toBe(0);
    await reader.refresh();
    for (const table of Object.keys(KEYS)) {
      const standin = lake.aws.tables.get(`${DATASET}.${table}`)!;
      expect(reader.aws.tables.get(`${DATASET}.${table}`), table).toEqual({ kind: standin.kind, columns: standin.columns });
    }
    expect(reader.aws.tables.get(`${DATASET}.contents`)!.kind).toBe('iceberg');
    expect(reader.aws.tables.get(`${DATASET}.accounts`)!.kind).toBe('parquet');
    for (const table of Object.keys(KEYS)) expect(await expectAthenaEqualsSource(reader, db, DATASET, table, KEYS[table]!, `live reader: ${table}`)).toBeGreaterThan(0);
    // a query returning no row: no header row taken for data
    expect(await reader.athenaQuery(`SELECT "account_id" FROM "${DATASET}"."accounts" WHERE "account_id" < 0`)).toEqual([]);
  });
});
