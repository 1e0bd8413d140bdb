import path from 'node:path';
import type { AthenaConfig } from '../../src/config/athena-config.js';
import { packageRoot } from '../../src/package/package-root.js';

/** Where a local run keeps its load packages: `<package dir>/<dataset>/<file name>-<hash>` (see src/package/package-root.ts). */
export function localPackageRoot(duckdbPath: string, dataset: string, packageDir = path.join(path.dirname(duckdbPath), '.ingesta', 'packages')): string {
  return packageRoot({ athena: undefined, duckdbPath, packageDir }, dataset);
}

/** Where a dev/prod run into s3://bucket/prefix (on a custom S3 endpoint, as in the tests) keeps its load packages. */
export function s3PackageRoot(packageDir: string, bucket: string, prefix: string, dataset: string, s3Endpoint: string | undefined): string {
  return packageRoot({ athena: { bucket, prefix } as AthenaConfig, duckdbPath: '', packageDir }, dataset, s3Endpoint);
}
