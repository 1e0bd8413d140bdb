import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { startFakeAws, type FakeAws } from './fake-aws.js';

/** The dev/prod destination's stand-ins: s3rver (a real S3 protocol server) and the loopback Glue/Athena. */
export interface Lakehouse {
  readonly s3url: string;
  readonly fake: FakeAws;
  /** A client on the emulated S3 (bucket `lake`). */
  readonly s3: S3Client;
  /** The variables of a dev/prod run against these stand-ins: data in s3://lake/raw, query results beside it. */
  env(databaseUrl: string, extra?: Record<string, string>): Record<string, string>;
  stop(): Promise<void>;
}

/** Starts s3rver (files under `dir`/s3, bucket `lake`) and the Glue/Athena stand-in. */
export async function startLakehouse(dir: string): Promise<Lakehouse> {
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: path.join(dir, 's3'), configureBuckets: [{ name: 'lake' }] });
  const { port } = await server.run();
  const s3url = `http://127.0.0.1:${port}`;
  const fake = await startFakeAws();
  const s3 = new S3Client({ region: 'us-east-1', endpoint: s3url, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  return {
    s3url,
    fake,
    s3,
    env: (databaseUrl, extra = {}) => ({
      DATABASE_URL: databaseUrl,
      BUCKET_URL: 's3://lake/raw',
      QUERY_RESULT_BUCKET: 's3://lake/athena-results/',
      ATHENA_WORK_GROUP: 'primary',
      AWS_DATA_CATALOG: 'AwsDataCatalog',
      REGION_NAME: 'us-east-1',
      AWS_ENDPOINT_URL_S3: s3url,
      AWS_ENDPOINT_URL_ATHENA: fake.url,
      AWS_ENDPOINT_URL_GLUE: fake.url,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      // no checksum settings: uploads go through lib-storage and JSON as Buffers, which s3rver stores correctly with
      // the SDK's default checksums (FINDINGS.md: only streamed PutObject bodies were corrupted)
      ...extra,
    }),
    async stop() {
      s3.destroy();
      await server.close();
      await fake.stop();
    },
  };
}
