import { ConfigError } from '../errors.js';
import { resolveKeepSupersededMs, resolveLockTiming, type LockTiming } from './runtime-settings.js';

/** Where and how dev/prod load: the original container's variables, plus the standard AWS SDK chain. */
export interface AthenaConfig {
  /** s3://bucket/prefix where the data lives (BUCKET_URL). */
  readonly bucket: string;
  readonly prefix: string;
  /** s3://… for Athena's query results (QUERY_RESULT_BUCKET). */
  readonly queryResultLocation: string;
  readonly workGroup: string;
  /** Glue/Athena data catalog (AWS_DATA_CATALOG, default AwsDataCatalog). */
  readonly dataCatalog: string;
  readonly region: string;
  /** Path-style S3 addressing, for S3-compatible stores (default: on when a custom S3 endpoint is set). */
  readonly s3PathStyle: boolean;
  /** The custom S3 endpoint the AWS SDK uses (AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL); undefined for AWS's own. */
  readonly s3Endpoint: string | undefined;
  /** The dataset lock's renewal and take-over timing (INGESTA_LOCK_STALE_AFTER). */
  readonly lockTiming: LockTiming;
  /** How long a superseded data folder is kept, in ms (INGESTA_KEEP_SUPERSEDED). */
  readonly keepSupersededMs: number;
}

type Env = Readonly<Record<string, string | undefined>>;
const set = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());

/** Parses s3://bucket/some/prefix → { bucket, prefix } (prefix without leading or trailing slash). */
export function parseS3Url(url: string, what: string): { bucket: string; prefix: string } {
  const m = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m || !m[1]) throw new ConfigError(`${what} must look like s3://bucket/prefix, not "${url}".`);
  return { bucket: m[1], prefix: m[2]!.replace(/^\/+|\/+$/g, '') };
}

/**
 * Reads the dev/prod settings. Every missing variable is listed in one ConfigError before anything runs.
 * Credentials are never read here: the AWS SDK's default chain finds them (IAM task role, profile, env keys), and
 * endpoints come from AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_ATHENA, AWS_ENDPOINT_URL_GLUE.
 */
export function resolveAthenaConfig(env: Env, options: { readonly queryResults?: 'required' | 'optional' } = {}): AthenaConfig {
  const missing: string[] = [];
  const bucketUrl = set(env.BUCKET_URL);
  // status and reset read S3 only: without QUERY_RESULT_BUCKET they skip what needs Athena (queryResultLocation '')
  const results = set(env.QUERY_RESULT_BUCKET) ?? (options.queryResults === 'optional' ? '' : undefined);
  const region = set(env.REGION_NAME) ?? set(env.AWS_REGION) ?? set(env.AWS_DEFAULT_REGION);
  if (!bucketUrl) missing.push('BUCKET_URL (s3://bucket/prefix where the data lives)');
  if (results === undefined) missing.push('QUERY_RESULT_BUCKET (s3://… for Athena query results)');
  if (!region) missing.push('REGION_NAME (or AWS_REGION)');
  if (missing.length > 0) {
    throw new ConfigError(`--env dev/prod needs these environment variables, which are not set: ${missing.join('; ')}. Nothing was run.`);
  }
  const { bucket, prefix } = parseS3Url(bucketUrl!, 'BUCKET_URL');
  if (results) parseS3Url(results, 'QUERY_RESULT_BUCKET');
  const pathStyle = set(env.INGESTA_S3_PATH_STYLE) ?? set(env.AWS_S3_FORCE_PATH_STYLE);
  const customEndpoint = set(env.AWS_ENDPOINT_URL_S3) ?? set(env.AWS_ENDPOINT_URL);
  return Object.freeze({
    bucket,
    prefix,
    queryResultLocation: results === '' || results!.endsWith('/') ? results! : `${results!}/`,
    workGroup: set(env.ATHENA_WORK_GROUP) ?? 'primary',
    dataCatalog: set(env.AWS_DATA_CATALOG) ?? 'AwsDataCatalog',
    region: region!,
    s3PathStyle: pathStyle !== undefined ? ['1', 'true', 'yes', 'on'].includes(pathStyle.toLowerCase()) : customEndpoint !== undefined,
    s3Endpoint: customEndpoint,
    lockTiming: resolveLockTiming(env),
    keepSupersededMs: resolveKeepSupersededMs(env),
  });
}
