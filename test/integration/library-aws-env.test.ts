import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetStatus, resolveDatasetSettings, run, validate, type PipelineEvent } from '../../src/index.js';
import { resolveAthenaConfig } from '../../src/config/athena-config.js';
import { awsClientSettings } from '../../src/destination/athena/aws-client-settings.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';
import { leakedSecrets, TEST_SECRETS } from '../helpers/secrets.js';

/**
 * Regression (issue #14, the library): in dev/prod the AWS SDK took its endpoints and credentials from the process
 * environment, although run() documents that it takes every setting from its `env` option. An application that
 * passes the lakehouse's settings in `env` (and has other AWS settings, or none, in its own environment) loaded into
 * the wrong place or failed. The S3, Athena and Glue clients now take region, endpoints and credentials from the
 * run's config only. Here the process environment points at a closed port with other keys: any use of it fails.
 */
const PROCESS_AWS = {
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
  AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9',
  AWS_ENDPOINT_URL_ATHENA: 'http://127.0.0.1:9',
  AWS_ENDPOINT_URL_GLUE: 'http://127.0.0.1:9',
  AWS_ACCESS_KEY_ID: 'AKIAPROCESSENVIRONMENT',
  AWS_SECRET_ACCESS_KEY: 'process-environment-secret',
  AWS_REGION: 'eu-west-9',
};
let db: TestDatabase;
let dir: string;
let lake: Lakehouse;
const saved = new Map<string, string | undefined>();

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDataVision(db, 5);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-lib-aws-'));
  lake = await startLakehouse(dir);
  for (const [k, v] of Object.entries(PROCESS_AWS)) {
    saved.set(k, process.env[k]);
    process.env[k] = v;
  }
}, 120_000);

afterAll(async () => {
  for (const [k, v] of saved) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await lake?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('run() in dev/prod takes its AWS settings from its env option', () => {
  it('loads, validates and reads status through the endpoints and keys of `env`, not the process environment (regression: the SDK read process.env)', async () => {
    const env = lake.env(db.url, { AWS_SECRET_ACCESS_KEY: 'S3RVER' });
    const events: PipelineEvent[] = [];
    const summary = await run({ env: 'dev', dataset: 'lib_env', tables: ['accounts'], schemaExport: false }, { env, onEvent: (e) => events.push(e) });
    expect(summary.tables.map((t) => t.rowsInDestination)).toEqual([5]);
    expect(await lake.athenaQuery('SELECT count(*) AS n FROM "lib_env"."accounts"')).toEqual([{ n: '5' }]);
    const report = await validate({ env: 'dev', dataset: 'lib_env', tables: ['accounts'] }, { env });
    expect(report.checks.length).toBeGreaterThan(0);
    const status = await datasetStatus(resolveDatasetSettings({ env: 'dev', dataset: 'lib_env' }, env));
    expect(status.datasets.map((d) => d.dataset)).toEqual(['lib_env']);
    expect(JSON.stringify([events, summary, report, status])).not.toContain('process-environment-secret');
  });

  it('the clients\' settings: the environment\'s region, endpoints and keys; no endpoint lookup in the process environment; the secret is no field of the config', async () => {
    const config = resolveAthenaConfig({
      BUCKET_URL: 's3://b/p', QUERY_RESULT_BUCKET: 's3://b/r/', REGION_NAME: 'us-east-2',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:4566', AWS_ACCESS_KEY_ID: 'AKIAHOOK', AWS_SECRET_ACCESS_KEY: TEST_SECRETS.awsSecretKey,
    });
    expect(leakedSecrets(JSON.stringify(config))).toEqual([]);
    const s3 = new S3Client(awsClientSettings(config, config.s3Endpoint));
    try {
      expect(await s3.config.region()).toBe('us-east-2');
      expect(await s3.config.credentials()).toMatchObject({ accessKeyId: 'AKIAHOOK', secretAccessKey: TEST_SECRETS.awsSecretKey });
      const endpoint = await s3.config.endpoint!();
      expect(`${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`).toBe('http://127.0.0.1:4566');
    } finally {
      s3.destroy();
    }
    // no endpoint and no keys in the run's environment: AWS's own endpoint (the process's AWS_ENDPOINT_URL_* ignored),
    // and the SDK's chain under a named profile (which skips its step that reads keys from the process environment)
    const bare = resolveAthenaConfig({ BUCKET_URL: 's3://b/p', QUERY_RESULT_BUCKET: 's3://b/r/', REGION_NAME: 'us-east-2', AWS_PROFILE: 'analytics' });
    expect(bare.athenaEndpoint).toBeUndefined();
    const settings = awsClientSettings(bare, bare.athenaEndpoint);
    expect(settings).toMatchObject({ region: 'us-east-2', ignoreConfiguredEndpointUrls: true, profile: 'analytics' });
    expect(settings).not.toHaveProperty('credentials');
  });
});
