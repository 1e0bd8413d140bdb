import type { PolicyDocument } from './scratch-policy.js';

/**
 * A small IAM evaluator for the offline rehearsal: which of the calls ingesta made would the rendered task-role
 * policy allow. Models only what the template uses: Allow statements, Resource globs (`*`), and StringLike on
 * `s3:prefix` (a request without a prefix does not match such a condition). Not IAM: no Deny, no NotAction, no SCPs,
 * no bucket policies; Athena's own S3 and Glue access while it runs a query is not seen.
 */
export interface IamRequest {
  readonly action: string;
  readonly resource: string;
  /** `s3:prefix` of a ListBucket request (undefined: none sent). */
  readonly prefix?: string;
  /** What it came from, for messages. */
  readonly from: string;
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const glob = (pattern: string) => new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

export function isAllowed(policy: PolicyDocument, req: IamRequest): boolean {
  return policy.Statement.some((s) => {
    if (s.Effect !== 'Allow') return false;
    if (!list(s.Action).some((a) => glob(a).test(req.action))) return false;
    if (!list(s.Resource).some((r) => glob(r).test(req.resource))) return false;
    for (const [op, conditions] of Object.entries(s.Condition ?? {})) {
      for (const [k, v] of Object.entries(conditions)) {
        if (op !== 'StringLike' || k !== 's3:prefix') return false; // not modelled: never grant on it
        if (req.prefix === undefined || !list(v).some((p) => glob(p).test(req.prefix!))) return false;
      }
    }
    return true;
  });
}

/** A path-style S3 request as the loopback S3 saw it. */
export interface S3Call {
  readonly method: string;
  /** `/bucket[/key][?query]` */
  readonly url: string;
  readonly body: string;
}

/** The IAM actions an S3 REST call needs (path-style URLs). */
export function s3Requests(call: S3Call): IamRequest[] {
  const u = new URL(call.url, 'http://s3');
  const [, bucket = '', ...rest] = u.pathname.split('/');
  const key = decodeURIComponent(rest.join('/'));
  const q = u.searchParams;
  const from = `${call.method} ${u.pathname}${u.search}`;
  const object = (action: string): IamRequest => ({ action, resource: `arn:aws:s3:::${bucket}/${key}`, from });
  if (key === '') {
    const onBucket = (action: string, prefix?: string): IamRequest => ({ action, resource: `arn:aws:s3:::${bucket}`, ...(prefix !== undefined ? { prefix } : {}), from });
    if (q.has('location')) return [onBucket('s3:GetBucketLocation')];
    if (q.has('uploads')) return [onBucket('s3:ListBucketMultipartUploads')];
    if (q.has('delete') && call.method === 'POST') {
      return [...call.body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => ({ action: 's3:DeleteObject', resource: `arn:aws:s3:::${bucket}/${m[1]!.replace(/&amp;/g, '&')}`, from }));
    }
    if (call.method === 'GET' || call.method === 'HEAD') return [onBucket('s3:ListBucket', q.get('prefix') ?? undefined)];
    return [onBucket(`s3:${call.method}Bucket (unmodelled)`)];
  }
  switch (call.method) {
    case 'GET':
      return [object(q.has('uploadId') ? 's3:ListMultipartUploadParts' : 's3:GetObject')];
    case 'HEAD':
      return [object('s3:GetObject')];
    case 'PUT':
    case 'POST':
      return [object('s3:PutObject')];
    case 'DELETE':
      return [object(q.has('uploadId') ? 's3:AbortMultipartUpload' : 's3:DeleteObject')];
    default:
      return [object(`s3:${call.method} (unmodelled)`)];
  }
}

/** The IAM actions and resources a Glue or Athena call (AWS JSON operation name and input) needs. */
export function glueAthenaRequests(op: string, input: Record<string, any>, ctx: { account: string; region: string; workGroup: string }): IamRequest[] {
  const from = op;
  if (/QueryExecution|QueryResults/.test(op)) {
    return [{ action: `athena:${op}`, resource: `arn:aws:athena:${ctx.region}:${ctx.account}:workgroup/${String(input.WorkGroup ?? ctx.workGroup)}`, from }];
  }
  const glue = `arn:aws:glue:${ctx.region}:${ctx.account}`;
  const db = String(input.DatabaseName ?? input.Name ?? input.DatabaseInput?.Name ?? '').toLowerCase();
  const table = String(input.TableInput?.Name ?? input.TableName ?? (input.DatabaseName !== undefined ? input.Name : undefined) ?? (op === 'GetTables' ? '*' : '')).toLowerCase();
  const resources = [`${glue}:catalog`, `${glue}:database/${db}`, ...(/Table|Partition/.test(op) ? [`${glue}:table/${db}/${table}`] : [])];
  return resources.map((resource) => ({ action: `glue:${op}`, resource, from }));
}
