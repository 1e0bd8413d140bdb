import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { startAthenaStandin, type AthenaStandinServer } from './athena-standin/server.js';
import { startS3Proxy, type S3Proxy } from './s3-conditional-proxy.js';

/**
 * The dev/prod destination's stand-ins: s3rver (a real S3 protocol server) behind a layer that honours conditional
 * PUTs and injects faults, and the Glue/Athena stand-in that executes statements on the Parquet objects s3rver holds.
 */
export interface Lakehouse {
  /** The S3 endpoint runs use (the conditional layer in front of s3rver). */
  readonly s3url: string;
  readonly aws: AthenaStandinServer;
  readonly proxy: S3Proxy;
  /** A client on the emulated S3 (bucket `lake`). */
  readonly s3: S3Client;
  /** The variables of a dev/prod run against these stand-ins: data in s3://lake/raw, query results beside it. */
  env(databaseUrl: string, extra?: Record<string, string>): Record<string, string>;
  /** Runs SQL on the Athena stand-in and returns the rows an Athena reader gets (values as Athena's text, NULL as null). */
  athenaQuery(sql: string): Promise<Record<string, string | null>[]>;
  stop(): Promise<void>;
}

/** Starts s3rver (files under `dir`/s3, bucket `lake`), its conditional layer and the Glue/Athena stand-in. */
export async function startLakehouse(dir: string): Promise<Lakehouse> {
  const root = path.join(dir, 's3');
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: root, configureBuckets: [{ name: 'lake' }] });
  const { port } = await server.run();
  const proxy = await startS3Proxy(`http://127.0.0.1:${port}`);
  const s3url = proxy.url;
  const aws = await startAthenaStandin(root);
  const s3 = new S3Client({ region: 'us-east-1', endpoint: s3url, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  return {
    s3url,
    aws,
    proxy,
    s3,
    env: (databaseUrl, extra = {}) => ({
      DATABASE_URL: databaseUrl,
      BUCKET_URL: 's3://lake/raw',
      QUERY_RESULT_BUCKET: 's3://lake/athena-results/',
      ATHENA_WORK_GROUP: 'primary',
      AWS_DATA_CATALOG: 'AwsDataCatalog',
      REGION_NAME: 'us-east-1',
      AWS_ENDPOINT_URL_S3: s3url,
      AWS_ENDPOINT_URL_ATHENA: aws.url,
      AWS_ENDPOINT_URL_GLUE: aws.url,
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
      // load packages beside this lakehouse: the default (<tmp>/ingesta/packages) is shared by every test process
      INGESTA_PACKAGE_DIR: path.join(dir, 'packages'),
      // no checksum settings: uploads go through lib-storage and JSON as Buffers, which s3rver stores correctly with
      // the SDK's default checksums (FINDINGS.md: only streamed PutObject bodies were corrupted)
      ...extra,
    }),
    athenaQuery: (sql) => aws.athenaQuery(sql),
    async stop() {
      s3.destroy();
      await proxy.stop();
      await server.close();
      await aws.stop();
    },
  };
}
