import type { EnvName, RunConfig } from '../config/config.js';
import { ConfigError } from '../errors.js';
import type { Destination } from './destination.js';
import { DuckDBDestination } from './duckdb/duckdb-destination.js';

/** Which destination each environment loads into. */
const DESTINATION_BY_ENV: Readonly<Record<EnvName, 'duckdb' | 'athena'>> = { local: 'duckdb', dev: 'athena', prod: 'athena' };

/** Fails before anything is opened when the environment's destination is not available in this version. */
export function assertDestinationAvailable(env: EnvName): void {
  if (DESTINATION_BY_ENV[env] === 'athena') {
    throw new ConfigError(
      `--env ${env} loads into S3 + Athena, which this version of ingesta does not support yet. ` +
        'Nothing was run. Use --env local (DuckDB) for now.',
    );
  }
}

export function createDestination(config: RunConfig, dataset: string, options: { readonly readOnly?: boolean } = {}): Destination {
  assertDestinationAvailable(config.env);
  return new DuckDBDestination(config.duckdbPath, dataset, options);
}
