/**
 * The distinctive secrets tests pass to ingesta (passwords, AWS secret keys), in one place. None may ever appear in
 * anything ingesta writes: test/global-setup.ts scans every stdout/stderr that `runCli` saw in the whole suite for
 * each of them after the run and fails it, naming the capture file, if one is found. Use these constants (or add
 * one here) in tests that pass a password. Only letters, digits and '-', so a leak is found as is in JSON, HTML and
 * URL-encoded text alike.
 */
export const TEST_SECRETS = {
  /** The TLS cluster's login password (test/integration/tls.test.ts). */
  tlsPassword: 'Tls-pw-7c1e9a4b-never-print',
  /** The least-privilege role's password on the security cluster (test/integration/security.test.ts). */
  sourcePassword: 'Src-pw-3f8d2e61-never-print',
  /** A wrong password tried against a SCRAM cluster: it must not be echoed either. */
  wrongPassword: 'Wrong-pw-a92b5c0d-never-print',
  /** The AWS secret access key of the dev run (security.test.ts). */
  awsSecretKey: 'Aws-secret-e41f07b3-never-print',
  /** The bad-input cluster's password (test/integration/bad-input.test.ts). */
  badInputPassword: 'Bad-pw-5d6e0f12-never-print',
  /** Secrets other test files use for the same purpose (kept here so the suite-wide scan covers them too). */
  cliErrors: 'S3cr3t-pa55word-do-not-print',
  athena: 'Pg-S3cret-never-printed',
} as const;

export const ALL_TEST_SECRETS: readonly string[] = Object.values(TEST_SECRETS);

/** Every secret of `secrets` found in `text`, for an assertion that names what leaked (never prints the text). */
export function leakedSecrets(text: string | Buffer, secrets: readonly string[] = ALL_TEST_SECRETS): string[] {
  const haystack = typeof text === 'string' ? Buffer.from(text) : text;
  return secrets.filter((s) => haystack.includes(Buffer.from(s)));
}
