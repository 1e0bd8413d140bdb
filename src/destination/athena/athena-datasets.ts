import { S3Client } from '@aws-sdk/client-s3';
import type { AthenaConfig } from '../../config/athena-config.js';
import { datasetKeys } from './athena-state.js';
import { S3Store } from './s3-store.js';
import { awsClientSettings } from './aws-client-settings.js';

/** The datasets ingesta keeps under BUCKET_URL: the folders holding an `_ingesta/` record (state or runs). */
export async function listAthenaDatasets(config: AthenaConfig, client?: S3Client): Promise<string[]> {
  const s3 = new S3Store(client ?? new S3Client({ ...awsClientSettings(config, config.s3Endpoint), forcePathStyle: config.s3PathStyle }), config.bucket);
  const base = config.prefix ? `${config.prefix}/` : '';
  const datasets: string[] = [];
  for (const folder of await s3.folders(base)) {
    const dataset = folder.slice(base.length).replace(/\/$/, '');
    if ((await s3.folders(`${datasetKeys(config.prefix, dataset).base}/_ingesta/`)).length > 0) datasets.push(dataset);
  }
  return datasets.sort();
}
