import type { AthenaConfig } from '../../config/athena-config.js';

/** The SDK's own credential chain would warn on the console about env keys beside a profile: never shown to a user. */
const quietLogger = Object.freeze({ debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined });

/**
 * The settings of an S3, Athena or Glue client, all from the run's AthenaConfig (built from the run's environment):
 * the region; the endpoint, or none (then the SDK's configured-endpoint lookup, which reads the process environment,
 * is switched off); the credentials: the environment's keys, else the SDK's chain under the config's profile (naming
 * a profile skips the chain's step that reads keys from the process environment; the shared files, web identity and
 * the container or instance role follow).
 */
export function awsClientSettings(config: AthenaConfig, endpoint: string | undefined) {
  const credentials = config.credentials;
  return {
    region: config.region,
    ...(endpoint ? { endpoint } : { ignoreConfiguredEndpointUrls: true }),
    ...(credentials.kind === 'keys' ? { credentials: async () => credentials.keys() } : { profile: credentials.profile, logger: quietLogger }),
  };
}
