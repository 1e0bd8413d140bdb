import { DEFAULT_CATALOG_PATH } from '../catalog/catalog.js';
import { resolveAthenaConfig } from './athena-config.js';
import { checkedDatasetName, DEFAULT_DUCKDB_PATH, defaultPackageDir, ENV_NAMES, type EnvName, type RunConfig } from './config.js';
import { ConfigError } from '../errors.js';
import { resolveDuckDBSettings } from './runtime-settings.js';

/**
 * Where a dataset is, for `ingesta status` and `ingesta reset`: the destination only. Neither reads the source, so no
 * source setting is resolved (a missing or malformed DATABASE_URL changes nothing), and in dev/prod
 * QUERY_RESULT_BUCKET is optional: without it, what needs Athena is skipped and `skipped` says so.
 */
export type DatasetSettings = Pick<RunConfig, 'env' | 'dataset' | 'duckdbPath' | 'duckdb' | 'athena' | 'catalogPath' | 'packageDir'> & {
  /** What cannot be shown with these settings, one phrase each. */
  readonly skipped?: readonly string[];
};

export interface DatasetOptions {
  readonly env?: string | undefined;
  readonly dataset?: string | undefined;
  readonly duckdbPath?: string | undefined;
  readonly catalog?: string | undefined;
}

const nonEmpty = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v);

export function resolveDatasetSettings(options: DatasetOptions, env: Readonly<Record<string, string | undefined>> = process.env): DatasetSettings {
  const envName = (options.env ?? nonEmpty(env.INGESTA_ENV) ?? 'local') as EnvName;
  if (!ENV_NAMES.includes(envName)) throw new ConfigError(`Unknown environment "${envName}". Use --env local, dev or prod.`);
  const duckdbPath = options.duckdbPath ?? nonEmpty(env.DUCKDB_PATH) ?? DEFAULT_DUCKDB_PATH;
  const athena = envName === 'local' ? undefined : resolveAthenaConfig(env, { queryResults: 'optional' });
  return Object.freeze({
    env: envName,
    dataset: checkedDatasetName(options.dataset ?? nonEmpty(env.INGESTA_DATASET), envName),
    duckdbPath,
    duckdb: resolveDuckDBSettings(env),
    athena,
    catalogPath: options.catalog ?? nonEmpty(env.INGESTA_CATALOG) ?? DEFAULT_CATALOG_PATH,
    packageDir: defaultPackageDir(env, athena !== undefined, duckdbPath),
    skipped: athena && athena.queryResultLocation === '' ? ['Athena queries: freshness and current row counts of merge tables (QUERY_RESULT_BUCKET is not set)'] : [],
  });
}
