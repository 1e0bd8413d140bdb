import { createReadStream } from 'node:fs';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type _Object,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { DestinationError, InterruptedError, messageOf } from '../../errors.js';
import { isNotFound, isTransientAwsError, withRetries, type RetryOptions } from './aws-errors.js';

/** A JSON object read from S3 with the ETag to write it back conditionally. */
export interface VersionedJson<T> {
  readonly value: T;
  readonly etag: string | undefined;
}

/**
 * The S3 side of the lakehouse: data files, and ingesta's own state objects written with conditional requests
 * (If-None-Match / If-Match), so two runs can never overwrite each other's state unseen.
 */
export class S3Store {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    private readonly retry: Omit<RetryOptions, 'signal'> = {},
  ) {}

  /** s3://bucket/key */
  url(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /**
   * Uploads a local file (multipart above 8 MB, parts retried by the SDK). An aborted `signal` stops it: no new part
   * starts, the multipart upload is aborted, and the call rejects with an InterruptedError (lib-storage does not cancel
   * a single PUT already sent, for a file under 8 MB: that object may still land; a load's clean-up covers it).
   */
  async uploadFile(key: string, file: string, contentType = 'application/octet-stream', signal?: AbortSignal): Promise<void> {
    try {
      await withRetries(
        `Uploading ${this.url(key)}`,
        async () => {
          const abortController = new AbortController();
          const abort = () => abortController.abort();
          signal?.addEventListener('abort', abort, { once: true });
          try {
            const upload = new Upload({
              client: this.client,
              params: { Bucket: this.bucket, Key: key, Body: createReadStream(file), ContentType: contentType },
              queueSize: 2,
              partSize: 8 * 1024 * 1024,
              leavePartsOnError: false,
              abortController,
            });
            await upload.done();
          } finally {
            signal?.removeEventListener('abort', abort);
          }
        },
        { ...this.retry, ...(signal ? { signal } : {}) },
      );
    } catch (error) {
      if (signal?.aborted && !(error instanceof InterruptedError)) throw new InterruptedError(`Uploading ${this.url(key)} was interrupted.`, { cause: error });
      throw error;
    }
  }

  /**
   * Uploads a table's Parquet files into `folder` as part-00000.zstd.parquet, part-00001…, in their order, two files
   * at a time (each a multipart upload of its own). An aborted `signal` stops it (see uploadFile).
   */
  async uploadParquetParts(folder: string, files: readonly string[], signal?: AbortSignal): Promise<void> {
    const queue = files.map((file, i) => ({ file, key: `${folder}part-${String(i).padStart(5, '0')}.zstd.parquet` }));
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await this.uploadFile(next.key, next.file, undefined, signal);
    };
    // both workers settle before this does (a failed file empties the queue: the other worker ends after its file)
    const results = await Promise.allSettled([worker(), worker()].map((w) => w.catch((error: unknown) => {
      queue.length = 0;
      throw error;
    })));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async getJson<T>(key: string): Promise<VersionedJson<T> | undefined> {
    try {
      const read = await this.getText(key);
      return read ? { value: JSON.parse(read.text) as T, etag: read.etag } : undefined;
    } catch (error) {
      if (isNotFound(error) || isNotFound((error as { cause?: unknown }).cause)) return undefined;
      throw error;
    }
  }

  /**
   * Writes a JSON object. `expect: 'absent'` fails if the key exists (If-None-Match: *); an ETag fails if the object
   * changed since it was read (If-Match). A failed precondition is a DestinationError saying another run wrote first,
   * unless the object now holds exactly what this call sent: a write that succeeded but whose response was lost is
   * retried (by the SDK or here) and refused by its own precondition; reading it back tells the two apart.
   */
  async putJson(key: string, value: unknown, expect?: 'absent' | { etag: string }): Promise<string | undefined> {
    const body = JSON.stringify(value, null, 2);
    try {
      const out = await withRetries(
        `Writing ${this.url(key)}`,
        () =>
          this.client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key: key,
              Body: Buffer.from(body),
              ContentType: 'application/json',
              ...(expect === 'absent' ? { IfNoneMatch: '*' } : expect ? { IfMatch: expect.etag } : {}),
            }),
          ),
        this.retry,
      );
      return out.ETag;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) {
        if (expect !== undefined) {
          const written = await this.getText(key).catch(() => undefined);
          if (written && written.text === body) return written.etag;
        }
        throw new DestinationError(`${this.url(key)} was written by another run meanwhile (conditional write refused); nothing of this run's state was changed.`, { cause: error });
      }
      throw error;
    }
  }

  private async getText(key: string): Promise<{ text: string; etag: string | undefined } | undefined> {
    try {
      // the body is read inside the retry: a connection dropped mid-body ("aborted", ECONNRESET) is tried again
      return await withRetries(
        `Reading ${this.url(key)}`,
        async () => {
          const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
          return { text: await out.Body!.transformToString('utf8'), etag: out.ETag };
        },
        this.retry,
      );
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async list(prefix: string): Promise<_Object[]> {
    const objects: _Object[] = [];
    let token: string | undefined;
    do {
      const page = await withRetries(`Listing ${this.url(prefix)}`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token })),
      );
      objects.push(...(page.Contents ?? []));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  /**
   * The sub-folders directly under a prefix (ending with "/"), e.g. the datasets under BUCKET_URL: a skip scan (each
   * listing starts after the last folder seen, StartAfter jumping past its keys), so a folder of many data files costs
   * at most one request, and S3-compatible stores whose delimiter listing misses nested keys (s3rver) answer as S3.
   */
  async folders(prefix: string): Promise<string[]> {
    const folders: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await withRetries(`Listing ${this.url(prefix)}`, () =>
        this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ...(after !== undefined ? { StartAfter: after } : {}) })),
      );
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [o.Key] : []));
      for (const key of keys) {
        const slash = key.indexOf('/', prefix.length);
        const folder = slash === -1 ? undefined : key.slice(0, slash + 1);
        if (folder !== undefined && folders.at(-1) !== folder) folders.push(folder);
      }
      const last = keys.at(-1);
      if (last === undefined || !page.IsTruncated) return folders;
      const slash = last.indexOf('/', prefix.length);
      after = slash === -1 ? last : `${last.slice(0, slash + 1)}\u{10FFFF}`;
    }
  }

  /** Deletes every object under a prefix (1000 keys per request). */
  async deletePrefix(prefix: string): Promise<number> {
    if (!prefix.endsWith('/')) throw new Error(`refusing to delete a prefix without a trailing slash: ${prefix}`);
    const keys = (await this.list(prefix)).map((o) => o.Key!).filter(Boolean);
    for (let i = 0; i < keys.length; i += 1000) await this.deleteKeys(keys.slice(i, i + 1000), `Deleting under ${this.url(prefix)}`);
    return keys.length;
  }

  /**
   * DeleteObjects (Quiet), then its per-key errors, which S3 reports inside a 200: keys that failed transiently
   * (InternalError, SlowDown, …) are sent again within the retry budget; any other failure is a DestinationError
   * naming the keys (a key that was already gone is no error: S3 reports it as deleted).
   */
  private async deleteKeys(keys: readonly string[], what: string): Promise<void> {
    let pending = [...keys];
    let failed: { key: string; code: string }[] = [];
    await withRetries(
      what,
      async () => {
        const out = await this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: pending.map((Key) => ({ Key })), Quiet: true } }));
        failed = (out.Errors ?? []).map((e) => ({ key: e.Key ?? '?', code: e.Code ?? 'Error' }));
        const transient = failed.filter((f) => isTransientAwsError({ name: f.code }));
        if (transient.length > 0 && transient.length === failed.length) {
          pending = transient.map((f) => f.key);
          throw Object.assign(new Error(`${transient.length} key(s) not deleted: ${transient[0]!.code}`), { name: transient[0]!.code });
        }
      },
      this.retry,
    ).catch((error: unknown) => {
      if (error instanceof DestinationError) throw new DestinationError(`${error.message} (keys: ${pending.slice(0, 5).join(', ')}${pending.length > 5 ? ', …' : ''})`, { cause: error });
      throw error;
    });
    if (failed.length > 0) {
      throw new DestinationError(
        `${what}: S3 refused to delete ${failed.length} object(s): ${failed.slice(0, 5).map((f) => `${f.key} (${f.code})`).join(', ')}${failed.length > 5 ? ', …' : ''}. ` +
          'Check the role\'s s3:DeleteObject permission on that prefix; the next run tries again.',
      );
    }
  }

  /** Deletes one object; with `etag`, only that version of it (If-Match): a refused precondition throws. */
  async deleteKey(key: string, etag?: string): Promise<void> {
    if (etag === undefined) return this.deleteKeys([key], `Deleting ${this.url(key)}`);
    try {
      await withRetries(`Deleting ${this.url(key)}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key, IfMatch: etag })), this.retry);
    } catch (error) {
      if (isNotFound(error)) return;
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412) throw new DestinationError(`${this.url(key)} changed since it was read (conditional delete refused): left in place.`, { cause: error });
      throw new DestinationError(`Deleting ${this.url(key)} failed: ${messageOf(error)}`, { cause: error });
    }
  }
}
