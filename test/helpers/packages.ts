import { readdirSync } from 'node:fs';
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

/**
 * Whether a dev/prod run under `packageDir` has begun typing `table`: its package holds the folder `<table>.parquet`
 * (DuckDB creates it when the table's typed COPY starts; the package goes when the run ends).
 */
export function typingBegun(packageDir: string, table: string): boolean {
  const name = `${table}.parquet`;
  const walk = (dir: string): boolean => readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory() && (e.name === name || walk(path.join(dir, e.name))));
  try {
    return walk(packageDir);
  } catch {
    return false; // (a folder removed while it was read: the run ended)
  }
}
