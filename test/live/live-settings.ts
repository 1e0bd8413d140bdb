/** What the live check needs from the environment, or why it does not run. */
export type LiveSettings =
  | { readonly run: true; readonly bucket: string; readonly region: string; readonly workGroup: string }
  | { readonly run: false; readonly message: string };

type Env = Readonly<Record<string, string | undefined>>;
const set = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());

/** The one line printed when the live check is skipped. */
export const SKIP_MESSAGE =
  'live AWS check not run: it is opt-in — set INGESTA_LIVE_AWS=1, AWS credentials (default chain), INGESTA_LIVE_BUCKET and REGION_NAME (or AWS_REGION), then `npm run test:aws` (README, "Live check against AWS")';

/**
 * Reads the opt-in: nothing runs without INGESTA_LIVE_AWS=1. Once opted in, a missing bucket or region is an error
 * (thrown, naming every missing variable), not a silent skip. Credentials are left to the AWS SDK's default chain.
 */
export function liveSettings(env: Env): LiveSettings {
  if (env.INGESTA_LIVE_AWS !== '1') return { run: false, message: SKIP_MESSAGE };
  const bucket = set(env.INGESTA_LIVE_BUCKET);
  const region = set(env.REGION_NAME) ?? set(env.AWS_REGION);
  const missing = [bucket ? undefined : 'INGESTA_LIVE_BUCKET (an existing bucket you can write)', region ? undefined : 'REGION_NAME (or AWS_REGION)'].filter(Boolean);
  if (missing.length > 0) throw new Error(`INGESTA_LIVE_AWS=1 but these variables are not set: ${missing.join('; ')}. Nothing was created.`);
  return { run: true, bucket: bucket!, region: region!, workGroup: set(env.ATHENA_WORK_GROUP) ?? 'primary' };
}
