import { DeleteDatabaseCommand, DeleteTableCommand, GetTablesCommand, type GlueClient } from '@aws-sdk/client-glue';
import { DeleteRoleCommand, DeleteRolePolicyCommand, ListRolePoliciesCommand, type IAMClient } from '@aws-sdk/client-iam';
import { AbortMultipartUploadCommand, DeleteObjectsCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { isScratchDatabase, isScratchKey, isScratchRole, type ScratchNames } from './scratch-names.js';

/** The caller's clients (never the scratch role's: it cannot delete itself, nor the database). */
export interface CleanupClients {
  readonly s3: S3Client;
  readonly glue: GlueClient;
  readonly iam: IAMClient;
}

const notFound = (e: unknown) => ['EntityNotFoundException', 'NoSuchEntity', 'NoSuchEntityException'].includes((e as { name?: string }).name ?? '');

/**
 * Removes what the live check created, and nothing else: the scratch Glue database's tables and the database, every
 * object (and unfinished multipart upload) under the scratch prefix — the data, state, lock and every query result
 * the check wrote — and the scratch role with its inline policies. Each part runs even when another failed; a name
 * outside the scratch names is refused, never deleted. Returns what could not be removed (empty when all is gone).
 */
export async function removeScratch(clients: CleanupClients, names: ScratchNames): Promise<string[]> {
  const failures: string[] = [];
  const attempt = async (what: string, step: () => Promise<void>) => {
    try {
      await step();
    } catch (e) {
      failures.push(`${what}: ${(e as Error).message}`);
    }
  };
  await attempt(`Glue database ${names.database}`, () => removeDatabase(clients.glue, names));
  await attempt(`s3://${names.bucket}/${names.prefix}`, () => removeObjects(clients.s3, names));
  await attempt(`IAM role ${names.role}`, () => removeRole(clients.iam, names));
  return failures;
}

async function removeDatabase(glue: GlueClient, names: ScratchNames): Promise<void> {
  const db = names.database;
  if (!isScratchDatabase(names, db)) throw new Error(`refused: ${db} is not a scratch database name`);
  const tables: string[] = [];
  try {
    let token: string | undefined;
    do {
      const out = await glue.send(new GetTablesCommand({ DatabaseName: db, NextToken: token }));
      for (const t of out.TableList ?? []) {
        if (t.DatabaseName !== undefined && t.DatabaseName.toLowerCase() !== db) throw new Error(`refused: GetTables listed ${t.DatabaseName}.${t.Name ?? ''}`);
        if (t.Name) tables.push(t.Name);
      }
      token = out.NextToken;
    } while (token);
  } catch (e) {
    if (notFound(e)) return;
    throw e;
  }
  for (const name of tables) {
    try {
      await glue.send(new DeleteTableCommand({ DatabaseName: db, Name: name }));
    } catch (e) {
      if (!notFound(e)) throw e;
    }
  }
  try {
    await glue.send(new DeleteDatabaseCommand({ Name: db }));
  } catch (e) {
    if (!notFound(e)) throw e;
  }
}

async function removeObjects(s3: S3Client, names: ScratchNames): Promise<void> {
  const { bucket, prefix } = names;
  if (!isScratchKey(names, bucket, `${prefix}x`)) throw new Error(`refused: s3://${bucket}/${prefix} is not a scratch prefix`);
  const refused: string[] = [];
  let token: string | undefined;
  do {
    const out = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    const keys = (out.Contents ?? []).map((o) => o.Key ?? '');
    for (const k of keys.filter((k) => !isScratchKey(names, bucket, k))) refused.push(k);
    const mine = keys.filter((k) => isScratchKey(names, bucket, k));
    if (mine.length > 0) {
      const del = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: mine.map((Key) => ({ Key })), Quiet: true } }));
      // a 200 can still carry per-key errors
      if ((del.Errors ?? []).length > 0) throw new Error(`${del.Errors!.length} objects not deleted (first: ${del.Errors![0]!.Key ?? '?'}: ${del.Errors![0]!.Code ?? '?'})`);
    }
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  let keyMarker: string | undefined;
  let uploadMarker: string | undefined;
  do {
    const out = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadMarker }));
    for (const u of out.Uploads ?? []) {
      if (!u.Key || !isScratchKey(names, bucket, u.Key)) {
        refused.push(u.Key ?? '(no key)');
        continue;
      }
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
    }
    [keyMarker, uploadMarker] = out.IsTruncated ? [out.NextKeyMarker, out.NextUploadIdMarker] : [undefined, undefined];
  } while (keyMarker);
  if (refused.length > 0) throw new Error(`refused to delete ${refused.length} listed keys outside ${prefix} (first: ${refused[0]})`);
}

async function removeRole(iam: IAMClient, names: ScratchNames): Promise<void> {
  const role = names.role;
  if (!isScratchRole(names, role)) throw new Error(`refused: ${role} is not a scratch role name`);
  try {
    const policies = await iam.send(new ListRolePoliciesCommand({ RoleName: role }));
    for (const p of policies.PolicyNames ?? []) await iam.send(new DeleteRolePolicyCommand({ RoleName: role, PolicyName: p }));
    await iam.send(new DeleteRoleCommand({ RoleName: role }));
  } catch (e) {
    if (!notFound(e)) throw e;
  }
}
