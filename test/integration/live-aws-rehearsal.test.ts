import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { KEYS } from '../helpers/datavision.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';
import { liveAthena, type LiveAthena } from '../live/live-athena.js';
import { backDateOneUpdate, changeSourceForIncremental, expectAllTablesEqualSource } from '../live/live-steps.js';
import { glueAthenaRequests, isAllowed, s3Requests } from '../live/policy-check.js';
import { startS3Recorder, type S3Recorder } from '../live/s3-recorder.js';
import { scratchNames } from '../live/scratch-names.js';
import { POLICY_TEMPLATE_PATH, renderScratchPolicy } from '../live/scratch-policy.js';

/**
 * An offline rehearsal of the live check (test/live/live-aws.test.ts) on the loopback stand-in: the same scratch
 * layout (dataset `ingesta_live_<id>`, data and query results under `ingesta-live/<id>/`), the same source changes
 * and runs, read through the live check's own Athena reader (Glue GetTables + AthenaQueryRunner over the AWS SDK,
 * pointed at the stand-in), and every S3, Glue and Athena call made checked against deploy/iam-policy.json rendered for
 * the scratch names (test/live/policy-check.ts). Not rehearsed: IAM and STS (the role), real IAM evaluation, Athena's
 * own S3/Glue access while it runs a query, real Athena's answers, the clean-up's AWS calls.
 */
const names = scratchNames('lake', '000000000000');
let db: TestDatabase;
let dir: string;
let lake: Lakehouse;
let reader: LiveAthena;
let recorder: S3Recorder;

const env = () =>
  lake.env(db.url, { BUCKET_URL: `s3://lake/${names.dataPrefix}`, QUERY_RESULT_BUCKET: `s3://lake/${names.resultsPrefix}/`, AWS_ENDPOINT_URL_S3: recorder.url });
const ingest = async (...args: string[]) => {
  const r = await runCli(['--env', 'dev', '--dataset', names.database, ...args], env());
  expect(r.code, `ingesta ${args.join(' ')}\n${r.stderr}${r.stdout}`).toBe(0);
  return r;
};
const expectLakehouseEqualsSource = async (label: string) => {
  await reader.refresh();
  await expectAllTablesEqualSource(reader, db, names.database, label);
};

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDataVision(db, 20);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-live-rehearsal-'));
  lake = await startLakehouse(dir);
  recorder = await startS3Recorder(lake.s3url);
  reader = liveAthena({
    region: 'us-east-1',
    workGroup: 'primary',
    database: names.database,
    outputLocation: `s3://lake/${names.resultsPrefix}/`,
    credentials: { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_SESSION_TOKEN: 'none' },
    endpoint: lake.aws.url,
  });
});

afterAll(async () => {
  reader?.close();
  await recorder?.stop();
  await lake?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('rehearsal of the live AWS check on the loopback stand-in', () => {
  it('full load: the reader sees the 8 Glue tables as the stand-in has them (kind, columns); every table equals the source', async () => {
    await ingest();
    await reader.refresh();
    for (const table of Object.keys(KEYS)) {
      const standin = lake.aws.tables.get(`${names.database}.${table}`)!;
      expect(reader.aws.tables.get(`${names.database}.${table}`), table).toEqual({ kind: standin.kind, columns: standin.columns });
    }
    expect(reader.aws.tables.get(`${names.database}.contents`)!.kind).toBe('iceberg');
    expect(reader.aws.tables.get(`${names.database}.accounts`)!.kind).toBe('parquet');
    expect(await reader.athenaQuery(`SELECT "account_id" FROM "${names.database}"."accounts" WHERE "account_id" < 0`)).toEqual([]);
    await expectLakehouseEqualsSource('full load');
  });

  it('incremental run after updates, inserts and hard deletes: every table equals the source', async () => {
    await changeSourceForIncremental(db);
    await ingest();
    await expectLakehouseEqualsSource('incremental');
  });

  it('--reconcile after a back-dated update: every table equals the source', async () => {
    await backDateOneUpdate(db);
    await ingest('--reconcile');
    await expectLakehouseEqualsSource('after --reconcile');
  });

  it('--solo-validar passes; everything the runs wrote is under the scratch prefix', async () => {
    await ingest('--solo-validar');
    const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const out = await lake.s3.send(new ListObjectsV2Command({ Bucket: 'lake', ContinuationToken: token }));
      keys.push(...(out.Contents ?? []).map((o) => o.Key!));
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.filter((k) => !k.startsWith(`${names.dataPrefix}/${names.database}/`) && !k.startsWith(`${names.resultsPrefix}/`))).toEqual([]);
  });

  it('every S3, Glue and Athena call of the runs and of the reader is allowed by deploy/iam-policy.json for the scratch names', () => {
    const ctx = { account: '123456789012', region: 'us-east-1', workGroup: 'primary' };
    const policy = renderScratchPolicy(readFileSync(POLICY_TEMPLATE_PATH, 'utf8'), names, ctx);
    const requests = [
      ...recorder.calls.flatMap(s3Requests),
      ...lake.aws.calls.flatMap((op, i) => glueAthenaRequests(op, lake.aws.bodies[i] ? (JSON.parse(lake.aws.bodies[i]!) as Record<string, unknown>) : {}, ctx)),
    ];
    expect(requests.filter((r) => r.action.startsWith('s3:')).length).toBeGreaterThan(50);
    expect(requests.filter((r) => r.action.startsWith('glue:')).length).toBeGreaterThan(10);
    expect(requests.filter((r) => r.action.startsWith('athena:')).length).toBeGreaterThan(10);
    const denied = [...new Set(requests.filter((r) => !isAllowed(policy, r)).map((r) => `${r.action} ${r.resource}${r.prefix !== undefined ? ` prefix=${r.prefix}` : ''} (${r.from})`))];
    expect(denied).toEqual([]);
  });
});
