import { existsSync } from 'node:fs';
import type { RunConfig } from '../config/config.js';
import type { Destination } from './destination.js';
import { DuckDBDestination } from './duckdb/duckdb-destination.js';

/**
 * local → a DuckDB file; dev/prod → S3 + Glue + Athena (settings resolved, and checked, with the config). The AWS
 * SDK is imported only for dev/prod: it costs ~0.9 s of start-up, which a local incremental run should not pay.
 */
export async function createDestination(
  config: Pick<RunConfig, 'athena' | 'duckdbPath' | 'duckdb'>,
  dataset: string,
  options: { readonly readOnly?: boolean; readonly runId?: string; readonly missingAsEmpty?: boolean } = {},
): Promise<Destination> {
  if (config.athena) {
    const { AthenaDestination } = await import('./athena/athena-destination.js');
    return new AthenaDestination(config.athena, dataset, { ...options, duckdb: config.duckdb });
  }
  // a dry run on a DuckDB file that does not exist yet sees an empty destination, and creates nothing
  if (options.readOnly && options.missingAsEmpty && !existsSync(config.duckdbPath)) return new DuckDBDestination(':memory:', dataset, { settings: config.duckdb });
  return new DuckDBDestination(config.duckdbPath, dataset, { ...options, settings: config.duckdb });
}

/** Where the data goes, for messages: the DuckDB file, or s3://bucket/prefix. */
export function destinationLabel(config: Pick<RunConfig, 'athena' | 'duckdbPath'>): string {
  return config.athena ? `s3://${config.athena.bucket}/${config.athena.prefix}` : config.duckdbPath;
}
