import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import type { RunConfig } from '../config/config.js';

/**
 * The identity of a run's destination: the DuckDB file (its resolved path) or s3://bucket/prefix (with the endpoint
 * when it is not AWS's: bucket names are unique only there; AthenaConfig.s3Endpoint, the endpoint the AWS SDK reads from
 * AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL), and the dataset.
 * Load packages are kept per identity, so runs into other destinations sharing a --package-dir (two DuckDB files in
 * one folder; dev/prod runs sharing the temp folder) never see, complete or remove each other's packages.
 */
export function destinationIdentity(config: Pick<RunConfig, 'athena' | 'duckdbPath'>, dataset: string, s3Endpoint = config.athena?.s3Endpoint): string {
  if (config.athena) {
    const endpoint = s3Endpoint ? ` at ${s3Endpoint}` : '';
    return `s3://${config.athena.bucket}/${config.athena.prefix.replace(/\/+$/, '')}${endpoint}#${dataset}`;
  }
  return `duckdb:${resolvedFile(config.duckdbPath)}#${dataset}`;
}

/** The file's absolute path with the folder's symlinks resolved (the folder exists once the destination is open). */
function resolvedFile(file: string): string {
  const absolute = path.resolve(file);
  try {
    return path.join(realpathSync(path.dirname(absolute)), path.basename(absolute));
  } catch {
    return absolute;
  }
}

/**
 * `<package dir>/<dataset>/<destination name>-<hash of the identity>`: readable (the DuckDB file's name, or the
 * bucket and prefix) and unique per destination.
 */
export function packageRoot(config: Pick<RunConfig, 'athena' | 'duckdbPath' | 'packageDir'>, dataset: string, s3Endpoint = config.athena?.s3Endpoint): string {
  const identity = destinationIdentity(config, dataset, s3Endpoint);
  const name = config.athena ? `${config.athena.bucket}_${config.athena.prefix}` : path.basename(config.duckdbPath);
  const slug = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+|_+$/g, '').slice(0, 60) || 'destination';
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 12);
  return path.join(config.packageDir, dataset, `${slug}-${hash}`);
}
