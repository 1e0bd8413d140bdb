import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { S3Store } from '../../src/destination/athena/s3-store.js';
import { DestinationError } from '../../src/errors.js';
import { rejection } from '../helpers/expect-error.js';

const s3 = mockClient(S3Client);
const client = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'not-a-secret' } });
const store = () => new S3Store(client, 'lake', { sleep: async () => {} });

/** The part of an SDK stream body S3Store reads. */
const body = (text: string) => ({ transformToString: async () => text }) as never;
const preconditionFailed = () =>
  new S3ServiceException({ name: 'PreconditionFailed', $fault: 'client', message: 'At least one of the pre-conditions you specified did not hold', $metadata: { httpStatusCode: 412 } });
const internalError = () => new S3ServiceException({ name: 'InternalError', $fault: 'server', message: 'We encountered an internal error', $metadata: { httpStatusCode: 500 } });

let n = 0;

/** An S3 object store with conditional PUTs, as S3 behaves: the write lands, and the response can be lost. */
function conditionalBucket(options: { loseFirstResponse: boolean }) {
  const objects = new Map<string, { text: string; etag: string }>();
  let lost = !options.loseFirstResponse;
  s3.on(PutObjectCommand).callsFake((input: { Key: string; Body: Buffer; IfNoneMatch?: string; IfMatch?: string }) => {
    const current = objects.get(input.Key);
    if ((input.IfNoneMatch === '*' && current) || (input.IfMatch !== undefined && current?.etag !== input.IfMatch)) throw preconditionFailed();
    n += 1;
    objects.set(input.Key, { text: input.Body.toString('utf8'), etag: `"e${n}"` });
    if (!lost) {
      lost = true;
      throw internalError(); // written, but the response never arrived: the caller retries
    }
    return { ETag: `"e${n}"` };
  });
  s3.on(GetObjectCommand).callsFake((input: { Key: string }) => {
    const o = objects.get(input.Key);
    if (!o) throw new S3ServiceException({ name: 'NoSuchKey', $fault: 'client', message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } });
    return { Body: body(o.text), ETag: o.etag };
  });
  return objects;
}

beforeEach(() => s3.reset());

describe('S3Store: conditional writes whose response was lost', () => {
  it('a lost response to a successful If-None-Match write is not taken as another run writing first (regression: a false lost lock)', async () => {
    const objects = conditionalBucket({ loseFirstResponse: true });
    const etag = await store().putJson('raw/ds/_ingesta/lock.json', { run_id: 'r1', pid: 1 }, 'absent');
    expect(etag).toBe(objects.get('raw/ds/_ingesta/lock.json')!.etag);
    expect(JSON.parse(objects.get('raw/ds/_ingesta/lock.json')!.text)).toEqual({ run_id: 'r1', pid: 1 });
  });

  it('a lost response to a successful If-Match write (state.json) is accepted too', async () => {
    const objects = conditionalBucket({ loseFirstResponse: false });
    const first = await store().putJson('state.json', { v: 1 }, 'absent');
    s3.reset();
    const again = conditionalBucket({ loseFirstResponse: true });
    again.set('state.json', objects.get('state.json')!);
    const etag = await store().putJson('state.json', { v: 2 }, { etag: first! });
    expect(JSON.parse(again.get('state.json')!.text)).toEqual({ v: 2 });
    expect(etag).toBe(again.get('state.json')!.etag);
  });

  it('a 412 because another run really wrote first is still refused', async () => {
    const objects = conditionalBucket({ loseFirstResponse: false });
    objects.set('lock.json', { text: JSON.stringify({ run_id: 'other' }, null, 2), etag: '"x"' });
    const error = await rejection(store().putJson('lock.json', { run_id: 'mine' }, 'absent'));
    expect(error).toBeInstanceOf(DestinationError);
    expect((error as Error).message).toMatch(/written by another run meanwhile/);
  });
});

describe('S3Store: DeleteObjects reports per-key errors inside a 200', () => {
  it('a key S3 refused to delete fails the deletion, naming the key (regression: the errors were ignored)', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'raw/ds/t/data/r1/part-0.parquet' }, { Key: 'raw/ds/t/data/r1/part-1.parquet' }] });
    s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: 'raw/ds/t/data/r1/part-1.parquet', Code: 'AccessDenied', Message: 'Access Denied' }] });
    const error = await rejection(store().deletePrefix('raw/ds/t/data/r1/'));
    expect(error).toBeInstanceOf(DestinationError);
    expect((error as Error).message).toContain('raw/ds/t/data/r1/part-1.parquet (AccessDenied)');
  });

  it('keys that failed transiently are sent again, alone', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'p/a' }, { Key: 'p/b' }] });
    s3.on(DeleteObjectsCommand)
      .resolvesOnce({ Errors: [{ Key: 'p/b', Code: 'InternalError', Message: 'We encountered an internal error' }] })
      .resolves({});
    await expect(store().deletePrefix('p/')).resolves.toBe(2);
    const calls = s3.commandCalls(DeleteObjectsCommand).map((c) => c.args[0].input.Delete!.Objects!.map((o) => o.Key));
    expect(calls).toEqual([['p/a', 'p/b'], ['p/b']]);
  });
});

describe('S3Store: the folders under a prefix (the datasets under BUCKET_URL)', () => {
  it('a skip scan: each listing starts after the last folder seen, so a folder of many files costs one request', async () => {
    // S3 as it lists: sorted keys, at most `max` per page, StartAfter honoured
    const keys = [
      'raw/README', 'raw/a/_ingesta/state.json', ...Array.from({ length: 50 }, (_, i) => `raw/a/t/data/${String(i).padStart(3, '0')}.parquet`),
      'raw/b/_ingesta/runs/1.json', 'raw/c/x', 'rawer/z',
    ].sort();
    const max = 3;
    s3.on(ListObjectsV2Command).callsFake((input: { Prefix: string; StartAfter?: string }) => {
      const matching = keys.filter((k) => k.startsWith(input.Prefix) && (input.StartAfter === undefined || k > input.StartAfter));
      return { Contents: matching.slice(0, max).map((Key) => ({ Key })), IsTruncated: matching.length > max };
    });
    await expect(store().folders('raw/')).resolves.toEqual(['raw/a/', 'raw/b/', 'raw/c/']);
    // one listing per folder at most (here: the first page holds raw/README and two keys of a/), never one per file
    expect(s3.commandCalls(ListObjectsV2Command).length).toBeLessThanOrEqual(4);
  });
});
