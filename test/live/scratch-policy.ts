import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ScratchNames } from './scratch-names.js';

/** The shipped task-role policy, with its `<placeholders>`. */
export const POLICY_TEMPLATE_PATH = fileURLToPath(new URL('../../deploy/iam-policy.json', import.meta.url));
/** The dataset the template is written for (its database, tables and data folder). */
export const TEMPLATE_DATASET = 'raw_datavision_prod';

/** Where the policy applies besides the scratch names. */
export interface PolicyContext {
  readonly account: string;
  readonly region: string;
  readonly workGroup: string;
}

export interface PolicyDocument {
  Version: string;
  Statement: { Sid?: string; Effect: string; Action: string | string[]; Resource: string | string[]; Condition?: Record<string, Record<string, string | string[]>> }[];
}

/**
 * deploy/iam-policy.json with every placeholder replaced for the scratch names: both buckets are the caller's
 * bucket, `<data-prefix>` the scratch data prefix, `<results-prefix>` the scratch results prefix, and the template's
 * dataset (`raw_datavision_prod`: database, tables and data folder) the scratch database. Throws if a placeholder
 * is left or the template no longer names its dataset (the substitution would then grant something else).
 */
export function renderScratchPolicy(template: string, names: ScratchNames, ctx: PolicyContext): PolicyDocument {
  if (!template.includes(TEMPLATE_DATASET)) throw new Error(`deploy/iam-policy.json no longer names the dataset ${TEMPLATE_DATASET}: update test/live/scratch-policy.ts`);
  if (!/^\d{12}$/.test(ctx.account)) throw new Error(`not an AWS account id: "${ctx.account}"`);
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(ctx.region)) throw new Error(`not an AWS region: "${ctx.region}"`);
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(ctx.workGroup)) throw new Error(`not an Athena work group name: "${ctx.workGroup}"`);
  const values: Record<string, string> = {
    '<data-bucket>': names.bucket,
    '<results-bucket>': names.bucket,
    '<data-prefix>': names.dataPrefix,
    '<results-prefix>': names.resultsPrefix,
    '<region>': ctx.region,
    '<account>': ctx.account,
    '<work-group>': ctx.workGroup,
  };
  let text = template.replaceAll(TEMPLATE_DATASET, names.database);
  for (const [placeholder, value] of Object.entries(values)) text = text.replaceAll(placeholder, value);
  const left = /<[a-z-]+>/.exec(text);
  if (left) throw new Error(`deploy/iam-policy.json has a placeholder the live check does not fill: ${left[0]}`);
  return JSON.parse(text) as PolicyDocument;
}

/** Reads the shipped template and renders it (see renderScratchPolicy). */
export function scratchPolicy(names: ScratchNames, ctx: PolicyContext): PolicyDocument {
  return renderScratchPolicy(readFileSync(POLICY_TEMPLATE_PATH, 'utf8'), names, ctx);
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/**
 * What in `policy` reaches outside the scratch names: an empty list means every Resource is the scratch bucket
 * itself (bucket-level calls), an object under the scratch prefix, the work group, the Glue catalog, the scratch
 * database or its tables, or Athena's `default` database; every `s3:prefix` condition lies under the scratch
 * prefix; the only wildcard is a trailing `/*` under one of those; every statement Allows.
 */
export function policyViolations(policy: PolicyDocument, names: ScratchNames, ctx: PolicyContext): string[] {
  const glue = `arn:aws:glue:${ctx.region}:${ctx.account}`;
  const exact = new Set([
    `arn:aws:s3:::${names.bucket}`,
    `arn:aws:athena:${ctx.region}:${ctx.account}:workgroup/${ctx.workGroup}`,
    `${glue}:catalog`,
    `${glue}:database/${names.database}`,
    `${glue}:database/default`,
  ]);
  const underStar = [`arn:aws:s3:::${names.bucket}/${names.prefix}`, `${glue}:table/${names.database}/`];
  const inside = (arn: string) =>
    exact.has(arn) || underStar.some((root) => arn.startsWith(root) && !arn.slice(0, -2).includes('*') && (!arn.includes('*') || arn.endsWith('/*')));
  const problems: string[] = [];
  for (const [i, s] of policy.Statement.entries()) {
    const where = s.Sid ?? `statement ${i}`;
    if (s.Effect !== 'Allow') problems.push(`${where}: Effect ${s.Effect}`);
    for (const r of list(s.Resource)) if (!inside(r)) problems.push(`${where}: resource ${r} is outside the scratch names`);
    for (const [op, conditions] of Object.entries(s.Condition ?? {})) {
      for (const [k, v] of Object.entries(conditions)) {
        if (k !== 's3:prefix') continue;
        for (const p of list(v)) {
          if (!`${p}/`.startsWith(names.prefix) || p.slice(0, -1).includes('*')) problems.push(`${where}: ${op} s3:prefix ${p} is outside ${names.prefix}`);
        }
      }
    }
  }
  return problems;
}

/** The role's trust policy: principals of the caller's own account may assume it (their IAM policies decide which). */
export function trustPolicy(account: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'sts:AssumeRole' }],
  });
}
