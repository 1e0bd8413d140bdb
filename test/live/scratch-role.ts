import { CreateRoleCommand, PutRolePolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import { isScratchRole, type ScratchNames } from './scratch-names.js';
import { trustPolicy, type PolicyDocument } from './scratch-policy.js';

/** Temporary credentials of the scratch role, as the CLI's environment takes them. */
export interface RoleCredentials {
  readonly AWS_ACCESS_KEY_ID: string;
  readonly AWS_SECRET_ACCESS_KEY: string;
  readonly AWS_SESSION_TOKEN: string;
}

export const POLICY_NAME = 'ingesta-task-policy';

/** Creates the scratch role (trusted by the caller's account) with `policy` inline; returns its ARN. */
export async function createScratchRole(iam: IAMClient, names: ScratchNames, account: string, policy: PolicyDocument): Promise<string> {
  if (!isScratchRole(names, names.role)) throw new Error(`refused: ${names.role} is not a scratch role name`);
  const out = await iam.send(
    new CreateRoleCommand({
      RoleName: names.role,
      AssumeRolePolicyDocument: trustPolicy(account),
      Description: 'ingesta live check (npm run test:aws): deploy/iam-policy.json for scratch names; deleted at the end',
      MaxSessionDuration: 3600,
      Tags: [{ Key: 'ingesta-live', Value: names.id }],
    }),
  );
  await iam.send(new PutRolePolicyCommand({ RoleName: names.role, PolicyName: POLICY_NAME, PolicyDocument: JSON.stringify(policy) }));
  return out.Role!.Arn!;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Retries `step` with backoff (1 s, 2 s, 4 s … capped at 8 s) while it fails, for at most `budgetMs`: a new IAM
 * role and its policy take seconds to propagate (AccessDenied until then). The last error is rethrown.
 */
export async function untilPropagated<T>(what: string, step: () => Promise<T>, budgetMs = 60_000, wait: (ms: number) => Promise<void> = sleep): Promise<T> {
  const started = Date.now();
  let waited = 0;
  const elapsed = () => Math.max(Date.now() - started, waited);
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (e) {
      const delay = Math.min(8_000, 1_000 * 2 ** attempt);
      if (elapsed() + delay > budgetMs) throw new Error(`${what} still failing after ${Math.round(elapsed() / 1000)} s (IAM propagation?): ${(e as Error).message}`);
      await wait(delay);
      waited += delay;
    }
  }
}

/** Assumes the scratch role (retrying while IAM propagates) for one hour. */
export async function assumeScratchRole(sts: STSClient, roleArn: string, names: ScratchNames): Promise<RoleCredentials> {
  const out = await untilPropagated(`sts:AssumeRole ${roleArn}`, () =>
    sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: `ingesta-live-${names.id}`, DurationSeconds: 3600 })),
  );
  const c = out.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) throw new Error(`sts:AssumeRole ${roleArn} returned no credentials`);
  return { AWS_ACCESS_KEY_ID: c.AccessKeyId, AWS_SECRET_ACCESS_KEY: c.SecretAccessKey, AWS_SESSION_TOKEN: c.SessionToken };
}
