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
  /** Athena's and Glue's custom endpoints (AWS_ENDPOINT_URL_ATHENA / _GLUE, else AWS_ENDPOINT_URL); undefined for AWS's own. */
  readonly athenaEndpoint: string | undefined;
  readonly glueEndpoint: string | undefined;
  /**
   * Where the AWS clients take their credentials from, as the run's environment says: `keys` (AWS_ACCESS_KEY_ID,
   * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), read through a function so the secret is never a field of the config
   * (printed, serialized); else `profile` (AWS_PROFILE, default "default": the shared files, then the machine's role).
   */
  readonly credentials: AwsCredentialSource;
  /** The dataset lock's renewal and take-over timing (INGESTA_LOCK_STALE_AFTER). */
  readonly lockTiming: LockTiming;
  /** How long a superseded data folder is kept, in ms (INGESTA_KEEP_SUPERSEDED). */
  readonly keepSupersededMs: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Static keys from the run's environment, behind a function; or the named profile of the SDK's chain (no env keys). */
export type AwsCredentialSource =
  | { readonly kind: 'keys'; readonly keys: () => { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string } }
  | { readonly kind: 'profile'; readonly profile: string };

/** The credentials the run's environment gives (never the process's, unless the environment is the process's). */
function credentialSource(env: Env): AwsCredentialSource {
  const accessKeyId = set(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = set(env.AWS_SECRET_ACCESS_KEY);
  if (accessKeyId && secretAccessKey) {
    const sessionToken = set(env.AWS_SESSION_TOKEN);
    const keys = Object.freeze({ accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) });
    return Object.freeze({ kind: 'keys' as const, keys: () => keys });
  }
  return Object.freeze({ kind: 'profile' as const, profile: set(env.AWS_PROFILE) ?? 'default' });
}
const set = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());

/** Parses s3://bucket/some/prefix → { bucket, prefix } (prefix without leading or trailing slash). */
export function parseS3Url(url: string, what: string): { bucket: string; prefix: string } {
  const m = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m || !m[1]) throw new ConfigError(`${what} must look like s3://bucket/prefix, not "${url}".`);
  return { bucket: m[1], prefix: m[2]!.replace(/^\/+|\/+$/g, '') };
}

/**
 * Reads the dev/prod settings from the run's environment (the CLI's: the process's; run()'s: its `env` option). Every
 * missing variable is listed in one ConfigError before anything runs. The AWS clients take region, endpoints
 * (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, _ATHENA, _GLUE) and credentials (keys, or AWS_PROFILE, else the machine's
 * role: ECS task role, web identity, EC2 instance role) from here, never from the process environment on their own.
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
    athenaEndpoint: set(env.AWS_ENDPOINT_URL_ATHENA) ?? set(env.AWS_ENDPOINT_URL),
    glueEndpoint: set(env.AWS_ENDPOINT_URL_GLUE) ?? set(env.AWS_ENDPOINT_URL),
    credentials: credentialSource(env),
    lockTiming: resolveLockTiming(env),
    keepSupersededMs: resolveKeepSupersededMs(env),
  });
}
