import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetDatabaseCommand, GlueClient } from '@aws-sdk/client-glue';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';
import { liveAthena, type LiveAthena } from './live-athena.js';
import { liveSettings } from './live-settings.js';
import { backDateOneUpdate, changeSourceForIncremental, expectAllTablesEqualSource } from './live-steps.js';
import { removeScratch } from './scratch-cleanup.js';
import { scratchNames, type ScratchNames } from './scratch-names.js';
import { policyViolations, scratchPolicy } from './scratch-policy.js';
import { assumeScratchRole, createScratchRole, untilPropagated, type RoleCredentials } from './scratch-role.js';

/**
 * The live check (`npm run test:aws`, opt-in): the DataVision tables loaded into a scratch Glue database and S3 prefix
 * of a real AWS account by the built CLI, under a role that has only deploy/iam-policy.json for those scratch names;
 * after a full, an incremental and a reconciling run, every table read through real Athena equals the source value by
 * value; the quality gate passes. Everything it created is removed at the end with the caller's credentials.
 */
const settings = liveSettings(process.env);
if (!settings.run) console.log(settings.message);

describe.skipIf(!settings.run)('live AWS (opt-in): full, incremental, reconcile and the quality gate under the shipped IAM policy', () => {
  const s = settings as Extract<typeof settings, { run: true }>;
  // created in beforeAll: a skipped describe still runs this body (to list its tests)
  let sts: STSClient | undefined;
  let clients: { s3: S3Client; glue: GlueClient; iam: IAMClient } | undefined;
  let names: ScratchNames | undefined;
  let db: TestDatabase | undefined;
  let role: RoleCredentials;
  let lake: LiveAthena | undefined;
  let packages: string | undefined;

  const env = (): Record<string, string> => ({
    DATABASE_URL: db!.url,
    BUCKET_URL: `s3://${names!.bucket}/${names!.dataPrefix}`,
    QUERY_RESULT_BUCKET: `s3://${names!.bucket}/${names!.resultsPrefix}/`,
    REGION_NAME: s.region,
    ATHENA_WORK_GROUP: s.workGroup,
    INGESTA_PACKAGE_DIR: packages!,
    ...role,
  });
  const ingest = async (...args: string[]) => {
    const r = await runCli(['--env', 'dev', '--dataset', names!.database, ...args], env());
    // the role's temporary secret and token never appear in what ingesta prints (checked before showing the output)
    const leaked = [role.AWS_SECRET_ACCESS_KEY, role.AWS_SESSION_TOKEN].filter((v) => (r.stdout + r.stderr).includes(v));
    expect(leaked.length, `ingesta ${args.join(' ')} printed the role's secret key or session token`).toBe(0);
    expect(r.code, `ingesta ${args.join(' ')}\n${r.stderr}${r.stdout}`).toBe(0);
    return r;
  };
  const expectLakehouseEqualsSource = async (label: string) => {
    await lake!.refresh();
    await expectAllTablesEqualSource(lake!, db!, names!.database, label);
  };

  beforeAll(async () => {
    const caller = { region: s.region };
    sts = new STSClient(caller);
    clients = { s3: new S3Client(caller), glue: new GlueClient(caller), iam: new IAMClient(caller) };
    const me = await sts.send(new GetCallerIdentityCommand({}));
    const account = me.Account!;
    names = scratchNames(s.bucket);
    const ctx = { account, region: s.region, workGroup: s.workGroup };
    const policy = scratchPolicy(names, ctx);
    expect(policyViolations(policy, names, ctx), 'the rendered policy stays inside the scratch names').toEqual([]);
    console.log(`live AWS check: database ${names.database}, s3://${names.bucket}/${names.prefix}, role ${names.role} (all removed at the end)`);
    const roleArn = await createScratchRole(clients.iam, names, account, policy);
    role = await assumeScratchRole(sts, roleArn, names);
    // the inline policy may propagate after the role: wait until the role can make a call the policy grants
    const probe = new GlueClient({ region: s.region, credentials: { accessKeyId: role.AWS_ACCESS_KEY_ID, secretAccessKey: role.AWS_SECRET_ACCESS_KEY, sessionToken: role.AWS_SESSION_TOKEN } });
    // (the database does not exist yet: EntityNotFound means the call was authorized)
    await untilPropagated(`glue:GetDatabase ${names.database} under the scratch role`, () =>
      probe.send(new GetDatabaseCommand({ Name: names!.database })).catch((e: unknown) => {
        if ((e as { name?: string }).name !== 'EntityNotFoundException') throw e;
      }),
    );
    probe.destroy();
    lake = liveAthena({ region: s.region, workGroup: s.workGroup, database: names.database, outputLocation: `s3://${names.bucket}/${names.resultsPrefix}/`, credentials: role });
    packages = mkdtempSync(path.join(tmpdir(), 'ingesta-live-'));
    db = await createTestDatabase('ingesta_live');
    await seedDataVision(db, 50);
  }, 300_000);

  afterAll(async () => {
    lake?.close();
    const left = names && clients ? await removeScratch(clients, names) : [];
    await db?.drop();
    if (packages) rmSync(packages, { recursive: true, force: true });
    sts?.destroy();
    for (const c of Object.values(clients ?? {})) c.destroy();
    if (left.length > 0) throw new Error(`live AWS check: could not remove everything it created — delete by hand: ${left.join('; ')}`);
  }, 600_000);

  it('full load of the 8 DataVision tables: every table read through Athena equals the source', async () => {
    await ingest();
    await expectLakehouseEqualsSource('full load');
  });

  it('incremental run after updates, inserts and a hard delete: Athena equals the source', async () => {
    await changeSourceForIncremental(db!);
    await ingest();
    await expectLakehouseEqualsSource('incremental');
  });

  it('--reconcile after a back-dated update: Athena equals the source', async () => {
    await backDateOneUpdate(db!);
    await ingest('--reconcile');
    await expectLakehouseEqualsSource('after --reconcile');
  });

  it('--solo-validar: the quality gate passes on Athena', async () => {
    await ingest('--solo-validar');
  });
});
