import { readFileSync } from 'node:fs';
import { DeleteDatabaseCommand, DeleteTableCommand, EntityNotFoundException, GetTablesCommand, GlueClient } from '@aws-sdk/client-glue';
import { CreateRoleCommand, DeleteRoleCommand, DeleteRolePolicyCommand, IAMClient, ListRolePoliciesCommand, NoSuchEntityException, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { AbortMultipartUploadCommand, DeleteObjectsCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { liveSettings, SKIP_MESSAGE } from '../live/live-settings.js';
import { glueAthenaRequests, isAllowed, s3Requests } from '../live/policy-check.js';
import { removeScratch } from '../live/scratch-cleanup.js';
import { isScratchDatabase, isScratchKey, isScratchRole, scratchNames, type ScratchNames } from '../live/scratch-names.js';
import { POLICY_TEMPLATE_PATH, policyViolations, renderScratchPolicy, trustPolicy, type PolicyDocument } from '../live/scratch-policy.js';
import { assumeScratchRole, createScratchRole, POLICY_NAME, untilPropagated } from '../live/scratch-role.js';

/** The offline parts of the live AWS check (test/live): names, the rendered IAM policy, the skip, the clean-up. */
const TEMPLATE = readFileSync(POLICY_TEMPLATE_PATH, 'utf8');
const names = scratchNames('my-bucket', '0123456789ab');
const ctx = { account: '123456789012', region: 'eu-west-1', workGroup: 'primary' };
const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

describe('scratch names', () => {
  it('share one random id: database, prefix (data and results under it), role', () => {
    expect(names).toMatchObject({
      database: 'ingesta_live_0123456789ab',
      prefix: 'ingesta-live/0123456789ab/',
      dataPrefix: 'ingesta-live/0123456789ab/data',
      resultsPrefix: 'ingesta-live/0123456789ab/athena-results',
      role: 'ingesta-live-0123456789ab',
    });
    const a = scratchNames('my-bucket');
    const b = scratchNames('my-bucket');
    expect(a.id).toMatch(/^[0-9a-f]{12}$/);
    expect(a.id).not.toBe(b.id);
    expect(() => scratchNames('my-bucket', '../../x')).toThrow(/12 lower-case hex/);
    expect(() => scratchNames('s3://my-bucket')).toThrow(/not an S3 bucket name/);
  });

  it('guards accept only the scratch names themselves', () => {
    expect(isScratchDatabase(names, 'ingesta_live_0123456789ab')).toBe(true);
    for (const db of ['raw_datavision_prod', 'default', 'ingesta_live_0123456789ac', 'ingesta_live_0123456789ab_x']) expect(isScratchDatabase(names, db), db).toBe(false);
    expect(isScratchRole(names, 'ingesta-live-0123456789ab')).toBe(true);
    for (const role of ['ingesta-task', 'ingesta-live-0123456789ac', 'ingesta-live-']) expect(isScratchRole(names, role), role).toBe(false);
    expect(isScratchKey(names, 'my-bucket', 'ingesta-live/0123456789ab/data/x.parquet')).toBe(true);
    for (const key of ['ingesta-live/0123456789ab/', 'ingesta-live/0123456789abc/x', 'ingesta-live/x', 'raw/raw_datavision_prod/state.json', 'ingesta-live/0123456789ab/../prod/x']) {
      expect(isScratchKey(names, 'my-bucket', key), key).toBe(false);
    }
    expect(isScratchKey(names, 'other-bucket', 'ingesta-live/0123456789ab/data/x')).toBe(false);
    // names tampered with after creation are no longer scratch names
    const forged = { ...names, database: 'raw_datavision_prod', prefix: 'ingesta-live/', role: 'ingesta-task' } as ScratchNames;
    expect(isScratchDatabase(forged, 'raw_datavision_prod')).toBe(false);
    expect(isScratchKey(forged, 'my-bucket', 'ingesta-live/other/x')).toBe(false);
    expect(isScratchRole(forged, 'ingesta-task')).toBe(false);
  });
});

describe('the IAM policy of the scratch role: deploy/iam-policy.json for the scratch names', () => {
  const policy = renderScratchPolicy(TEMPLATE, names, ctx);
  const template = JSON.parse(TEMPLATE) as PolicyDocument;

  it('keeps every statement and action of the shipped template and fills every placeholder', () => {
    expect(policy.Statement.map((s) => [s.Sid, s.Effect, s.Action])).toEqual(template.Statement.map((s) => [s.Sid, s.Effect, s.Action]));
    expect(JSON.stringify(policy)).not.toMatch(/<[a-z-]+>|raw_datavision/);
  });

  it('every Resource is the scratch bucket, an object under the scratch prefix, the work group, the catalog, the scratch database or its tables, or `default`', () => {
    const allowed = [
      /^arn:aws:s3:::my-bucket$/,
      /^arn:aws:s3:::my-bucket\/ingesta-live\/0123456789ab\/(data\/ingesta_live_0123456789ab|athena-results)\/\*$/,
      /^arn:aws:athena:eu-west-1:123456789012:workgroup\/primary$/,
      /^arn:aws:glue:eu-west-1:123456789012:(catalog|database\/ingesta_live_0123456789ab|table\/ingesta_live_0123456789ab\/\*|database\/default)$/,
    ];
    const resources = policy.Statement.flatMap((s) => list(s.Resource));
    expect(resources.length).toBeGreaterThan(10);
    for (const r of resources) expect(allowed.some((re) => re.test(r)), r).toBe(true);
    const prefixes = policy.Statement.flatMap((s) => list(s.Condition?.StringLike?.['s3:prefix']));
    expect(prefixes.length).toBe(4);
    for (const p of prefixes) expect(p.startsWith('ingesta-live/0123456789ab/'), p).toBe(true);
    expect(policyViolations(policy, names, ctx)).toEqual([]);
  });

  it('no wildcard broader than the template: the same `*`s, each a trailing `/*`, in the same places', () => {
    for (const [i, s] of policy.Statement.entries()) {
      const from = list(template.Statement[i]!.Resource);
      list(s.Resource).forEach((r, j) => {
        expect(r.split('*').length, `${s.Sid} ${r}`).toBe(from[j]!.split('*').length);
        if (r.includes('*')) expect(r.endsWith('/*') && from[j]!.endsWith('/*'), r).toBe(true);
      });
      expect(list(s.Action).some((a) => a.includes('*')), s.Sid).toBe(false);
    }
  });

  it('the checker catches a policy that reaches outside the scratch names', () => {
    const broad = (from: string, to: string) => policyViolations(renderScratchPolicy(TEMPLATE.replace(from, to), names, ctx), names, ctx);
    expect(broad('"arn:aws:s3:::<data-bucket>/<data-prefix>/raw_datavision_prod/*"', '"arn:aws:s3:::<data-bucket>/*"')).toEqual([
      'ReadWriteDataPrefix: resource arn:aws:s3:::my-bucket/* is outside the scratch names',
    ]);
    expect(broad('"<results-prefix>/*"', '"*"')).toEqual(['ListQueryResultPrefixOnly: StringLike s3:prefix * is outside ingesta-live/0123456789ab/']);
    expect(broad('table/raw_datavision_prod/*', 'table/*')).toHaveLength(1);
    expect(broad('database/raw_datavision_prod"', 'database/other"')).toHaveLength(1);
    expect(broad('"Effect": "Allow"', '"Effect": "Deny"')).toEqual(['LocateBuckets: Effect Deny']);
  });

  it('refuses a template it cannot fill, and account, region or work group values that are not names', () => {
    expect(() => renderScratchPolicy(TEMPLATE.replace('<work-group>', '<work-group>/<other>'), names, ctx)).toThrow(/placeholder .*<other>/);
    expect(() => renderScratchPolicy(TEMPLATE.replaceAll('raw_datavision_prod', 'raw_x'), names, ctx)).toThrow(/no longer names the dataset/);
    expect(() => renderScratchPolicy(TEMPLATE, names, { ...ctx, account: '*' })).toThrow(/account/);
    expect(() => renderScratchPolicy(TEMPLATE, names, { ...ctx, region: '*' })).toThrow(/region/);
    expect(() => renderScratchPolicy(TEMPLATE, names, { ...ctx, workGroup: '*' })).toThrow(/work group/);
  });

  it("the role trusts the caller's own account only", () => {
    expect(JSON.parse(trustPolicy('123456789012'))).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'sts:AssumeRole' }],
    });
  });
});

describe('opt-in', () => {
  it('without INGESTA_LIVE_AWS=1 the check is skipped with one message saying how to run it', () => {
    expect(liveSettings({ INGESTA_LIVE_BUCKET: 'b', REGION_NAME: 'eu-west-1' })).toEqual({ run: false, message: SKIP_MESSAGE });
    expect(SKIP_MESSAGE).toMatch(/INGESTA_LIVE_AWS=1.*INGESTA_LIVE_BUCKET.*REGION_NAME.*npm run test:aws/);
  });

  it('opted in: a missing bucket or region is an error naming each, not a skip; the work group defaults to primary', () => {
    expect(() => liveSettings({ INGESTA_LIVE_AWS: '1' })).toThrow(/INGESTA_LIVE_BUCKET .*; REGION_NAME \(or AWS_REGION\)\. Nothing was created/);
    expect(liveSettings({ INGESTA_LIVE_AWS: '1', INGESTA_LIVE_BUCKET: 'b', AWS_REGION: 'eu-west-1' })).toEqual({ run: true, bucket: 'b', region: 'eu-west-1', workGroup: 'primary' });
    expect(liveSettings({ INGESTA_LIVE_AWS: '1', INGESTA_LIVE_BUCKET: 'b', REGION_NAME: 'us-east-1', ATHENA_WORK_GROUP: 'wg' })).toMatchObject({ region: 'us-east-1', workGroup: 'wg' });
  });
});

describe('clean-up: removes the scratch names and refuses anything else', () => {
  const s3 = mockClient(S3Client);
  const glue = mockClient(GlueClient);
  const iam = mockClient(IAMClient);
  const clients = { s3: new S3Client({ region: 'eu-west-1' }), glue: new GlueClient({ region: 'eu-west-1' }), iam: new IAMClient({ region: 'eu-west-1' }) };
  const deletes = () => [
    ...glue.commandCalls(DeleteTableCommand).map((c) => `glue table ${c.args[0].input.DatabaseName}.${c.args[0].input.Name}`),
    ...glue.commandCalls(DeleteDatabaseCommand).map((c) => `glue database ${c.args[0].input.Name}`),
    ...s3.commandCalls(DeleteObjectsCommand).flatMap((c) => c.args[0].input.Delete!.Objects!.map((o) => `s3 ${c.args[0].input.Bucket}/${o.Key}`)),
    ...s3.commandCalls(AbortMultipartUploadCommand).map((c) => `upload ${c.args[0].input.Key}`),
    ...iam.commandCalls(DeleteRolePolicyCommand).map((c) => `role policy ${c.args[0].input.RoleName}/${c.args[0].input.PolicyName}`),
    ...iam.commandCalls(DeleteRoleCommand).map((c) => `role ${c.args[0].input.RoleName}`),
  ];

  beforeEach(() => {
    s3.reset();
    glue.reset();
    iam.reset();
    glue.on(GetTablesCommand).resolves({ TableList: [{ Name: 'accounts', DatabaseName: names.database }, { Name: 'contents', DatabaseName: names.database }] });
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: `${names.prefix}data/${names.database}/_ingesta/state.json` }, { Key: `${names.prefix}athena-results/q1.csv` }] });
    s3.on(ListMultipartUploadsCommand).resolves({ Uploads: [{ Key: `${names.prefix}data/x.parquet`, UploadId: 'u1' }] });
    s3.on(DeleteObjectsCommand).resolves({});
    iam.on(ListRolePoliciesCommand).resolves({ PolicyNames: ['ingesta-task-policy'] });
  });

  it('deletes the scratch database and its tables, every object and upload under the prefix, the role and its policy', async () => {
    expect(await removeScratch(clients, names)).toEqual([]);
    expect(deletes()).toEqual([
      'glue table ingesta_live_0123456789ab.accounts',
      'glue table ingesta_live_0123456789ab.contents',
      'glue database ingesta_live_0123456789ab',
      's3 my-bucket/ingesta-live/0123456789ab/data/ingesta_live_0123456789ab/_ingesta/state.json',
      's3 my-bucket/ingesta-live/0123456789ab/athena-results/q1.csv',
      'upload ingesta-live/0123456789ab/data/x.parquet',
      'role policy ingesta-live-0123456789ab/ingesta-task-policy',
      'role ingesta-live-0123456789ab',
    ]);
    expect(s3.commandCalls(ListObjectsV2Command)[0]!.args[0].input).toMatchObject({ Bucket: 'my-bucket', Prefix: 'ingesta-live/0123456789ab/' });
  });

  it('names that are not scratch names: nothing is listed or deleted, each part reported as refused', async () => {
    const forged = { ...names, database: 'raw_datavision_prod', prefix: 'raw/', role: 'ingesta-task' } as ScratchNames;
    const failures = await removeScratch(clients, forged);
    expect(failures).toEqual([
      'Glue database raw_datavision_prod: refused: raw_datavision_prod is not a scratch database name',
      's3://my-bucket/raw/: refused: s3://my-bucket/raw/ is not a scratch prefix',
      'IAM role ingesta-task: refused: ingesta-task is not a scratch role name',
    ]);
    expect(deletes()).toEqual([]);
    expect([...glue.calls(), ...s3.calls(), ...iam.calls()]).toHaveLength(0);
  });

  it('a listing that returns keys outside the prefix (or another database\'s table): those are never deleted, and reported', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: `${names.prefix}data/a.parquet` }, { Key: 'ingesta-live/0123456789abc/b.parquet' }, { Key: 'raw/raw_datavision_prod/_ingesta/state.json' }] });
    glue.on(GetTablesCommand).resolves({ TableList: [{ Name: 'accounts', DatabaseName: 'raw_datavision_prod' }] });
    const failures = await removeScratch(clients, names);
    expect(failures).toEqual([
      'Glue database ingesta_live_0123456789ab: refused: GetTables listed raw_datavision_prod.accounts',
      's3://my-bucket/ingesta-live/0123456789ab/: refused to delete 2 listed keys outside ingesta-live/0123456789ab/ (first: ingesta-live/0123456789abc/b.parquet)',
    ]);
    expect(deletes().filter((d) => !d.startsWith('upload') && !d.startsWith('role'))).toEqual(['s3 my-bucket/ingesta-live/0123456789ab/data/a.parquet']);
  });

  it('per-key DeleteObjects errors in a 200 are reported; what is already gone is not an error', async () => {
    s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: `${names.prefix}athena-results/q1.csv`, Code: 'AccessDenied' }] });
    glue.on(GetTablesCommand).rejects(new EntityNotFoundException({ message: 'no database', $metadata: {} }));
    iam.on(ListRolePoliciesCommand).rejects(new NoSuchEntityException({ message: 'no role', $metadata: {} }));
    expect(await removeScratch(clients, names)).toEqual([
      's3://my-bucket/ingesta-live/0123456789ab/: 1 objects not deleted (first: ingesta-live/0123456789ab/athena-results/q1.csv: AccessDenied)',
    ]);
  });
});

describe('waiting for IAM propagation', () => {
  it('retries with backoff until the call succeeds, and gives up after the budget with the last error', async () => {
    const waits: number[] = [];
    let calls = 0;
    const ok = await untilPropagated('assume', async () => (++calls < 4 ? Promise.reject(new Error('AccessDenied')) : 'creds'), 60_000, async (ms) => void waits.push(ms));
    expect(ok).toBe('creds');
    expect(waits).toEqual([1000, 2000, 4000]);
    waits.length = 0;
    await expect(untilPropagated('assume', () => Promise.reject(new Error('AccessDenied: not yet')), 60_000, async (ms) => void waits.push(ms))).rejects.toThrow(
      /assume still failing after 55 s \(IAM propagation\?\): AccessDenied: not yet/,
    );
    expect(waits).toEqual([1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000, 8000]);
  });
});

describe('the offline policy check (used by the rehearsal on the stand-in)', () => {
  const policy = renderScratchPolicy(TEMPLATE, names, ctx);
  const allowed = (r: { action: string; resource: string; prefix?: string }) => isAllowed(policy, { ...r, from: 'test' });
  const s3 = (method: string, url: string, body = '') => s3Requests({ method, url, body }).map((r) => [r.action, r.resource, r.prefix, allowed(r)]);
  const data = `/my-bucket/${names.dataPrefix}/${names.database}`;

  it('maps S3 calls to IAM actions and allows them only inside the scratch prefixes', () => {
    expect(s3('PUT', `${data}/accounts/data/r1/part-0.parquet`)).toEqual([['s3:PutObject', `arn:aws:s3:::my-bucket/${names.dataPrefix}/${names.database}/accounts/data/r1/part-0.parquet`, undefined, true]]);
    expect(s3('PUT', '/my-bucket/raw/raw_datavision_prod/_ingesta/state.json')[0]![3]).toBe(false);
    expect(s3('PUT', `/my-bucket/${names.dataPrefix}/other_db/x`)[0]![3]).toBe(false);
    expect(s3('GET', `/my-bucket/${names.resultsPrefix}/q1.csv`)[0]![3]).toBe(true);
    expect(s3('DELETE', `${data}/x.parquet?uploadId=u1`)[0]).toEqual(['s3:AbortMultipartUpload', `arn:aws:s3:::my-bucket/${names.dataPrefix}/${names.database}/x.parquet`, undefined, true]);
    expect(s3('GET', `/my-bucket?list-type=2&prefix=${encodeURIComponent(`${names.dataPrefix}/${names.database}/accounts/data/`)}`)[0]!.slice(2)).toEqual([`${names.dataPrefix}/${names.database}/accounts/data/`, true]);
    expect(s3('GET', '/my-bucket?list-type=2&prefix=ingesta-live%2F')[0]![3]).toBe(false);
    expect(s3('HEAD', '/my-bucket')[0]![3]).toBe(false); // HeadBucket = ListBucket without a prefix: the condition denies it
    expect(s3('GET', '/my-bucket?location')[0]![3]).toBe(true);
    expect(s3('POST', '/my-bucket?delete', `<Delete><Object><Key>${names.dataPrefix}/${names.database}/a</Key></Object><Object><Key>raw/b</Key></Object></Delete>`).map((r) => r[3])).toEqual([true, false]);
  });

  it('maps Glue and Athena calls to their resources: the scratch database and its tables, `default` read-only, the work group', () => {
    const ok = (op: string, input: Record<string, unknown>) => glueAthenaRequests(op, input, ctx).every((r) => allowed(r));
    expect(ok('CreateDatabase', { DatabaseInput: { Name: names.database } })).toBe(true);
    expect(ok('CreateTable', { DatabaseName: names.database, TableInput: { Name: 'accounts' } })).toBe(true);
    expect(ok('DeleteTable', { DatabaseName: names.database, Name: 'contents__ingesta_stage' })).toBe(true);
    expect(ok('GetTables', { DatabaseName: names.database })).toBe(true);
    expect(ok('GetDatabase', { Name: 'default' })).toBe(true);
    expect(ok('CreateTable', { DatabaseName: 'default', TableInput: { Name: 'x' } })).toBe(false);
    expect(ok('DeleteTable', { DatabaseName: 'raw_datavision_prod', Name: 'accounts' })).toBe(false);
    expect(ok('DeleteDatabase', { Name: names.database })).toBe(false);
    expect(ok('StartQueryExecution', { WorkGroup: 'primary' })).toBe(true);
    expect(ok('StartQueryExecution', { WorkGroup: 'other' })).toBe(false);
    expect(ok('GetQueryResults', { QueryExecutionId: 'q' })).toBe(true);
  });
});

describe('the scratch role', () => {
  const iam = mockClient(IAMClient);
  const sts = mockClient(STSClient);
  beforeEach(() => {
    iam.reset();
    sts.reset();
  });

  it('is created with the trust policy of the caller\'s account and the rendered policy inline, then assumed once IAM answers', async () => {
    iam.on(CreateRoleCommand).resolves({ Role: { Arn: 'arn:aws:iam::123456789012:role/ingesta-live-0123456789ab' } as never });
    iam.on(PutRolePolicyCommand).resolves({});
    const policy = renderScratchPolicy(TEMPLATE, names, ctx);
    const arn = await createScratchRole(new IAMClient({ region: 'eu-west-1' }), names, ctx.account, policy);
    expect(arn).toBe('arn:aws:iam::123456789012:role/ingesta-live-0123456789ab');
    const create = iam.commandCalls(CreateRoleCommand)[0]!.args[0].input;
    expect(create).toMatchObject({ RoleName: names.role, AssumeRolePolicyDocument: trustPolicy(ctx.account), MaxSessionDuration: 3600 });
    expect(iam.commandCalls(PutRolePolicyCommand)[0]!.args[0].input).toEqual({ RoleName: names.role, PolicyName: POLICY_NAME, PolicyDocument: JSON.stringify(policy) });
    sts
      .on(AssumeRoleCommand)
      .rejectsOnce(Object.assign(new Error('not authorized to perform sts:AssumeRole'), { name: 'AccessDenied' }))
      .resolves({ Credentials: { AccessKeyId: 'ASIA1', SecretAccessKey: 's', SessionToken: 't', Expiration: new Date() } });
    const creds = await assumeScratchRole(new STSClient({ region: 'eu-west-1' }), arn, names);
    expect(creds).toEqual({ AWS_ACCESS_KEY_ID: 'ASIA1', AWS_SECRET_ACCESS_KEY: 's', AWS_SESSION_TOKEN: 't' });
    expect(sts.commandCalls(AssumeRoleCommand).map((c) => c.args[0].input)).toEqual([
      { RoleArn: arn, RoleSessionName: 'ingesta-live-0123456789ab', DurationSeconds: 3600 },
      { RoleArn: arn, RoleSessionName: 'ingesta-live-0123456789ab', DurationSeconds: 3600 },
    ]);
  });

  it('is never created under a name that is not the scratch role', async () => {
    const forged = { ...names, role: 'ingesta-task' } as ScratchNames;
    await expect(createScratchRole(new IAMClient({ region: 'eu-west-1' }), forged, ctx.account, renderScratchPolicy(TEMPLATE, names, ctx))).rejects.toThrow(/refused: ingesta-task/);
    expect(iam.calls()).toHaveLength(0);
  });
});
