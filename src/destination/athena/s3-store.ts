import { createReadStream } from 'node:fs';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type _Object,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { DestinationError, messageOf } from '../../errors.js';
import { isNotFound, withRetries } from './aws-errors.js';

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
  ) {}

  /** s3://bucket/key */
  url(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  /** Uploads a local file (multipart above 8 MB, parts retried by the SDK). */
  async uploadFile(key: string, file: string, contentType = 'application/octet-stream'): Promise<void> {
    await withRetries(`Uploading ${this.url(key)}`, async () => {
      const upload = new Upload({
        client: this.client,
        params: { Bucket: this.bucket, Key: key, Body: createReadStream(file), ContentType: contentType },
        queueSize: 2,
        partSize: 8 * 1024 * 1024,
        leavePartsOnError: false,
      });
      await upload.done();
    });
  }

  async getJson<T>(key: string): Promise<VersionedJson<T> | undefined> {
    try {
      const out = await withRetries(`Reading ${this.url(key)}`, () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })));
      const text = await out.Body!.transformToString('utf8');
      return { value: JSON.parse(text) as T, etag: out.ETag };
    } catch (error) {
      if (isNotFound(error) || isNotFound((error as { cause?: unknown }).cause)) return undefined;
      throw error;
    }
  }

  /**
   * Writes a JSON object. `expect: 'absent'` fails if the key exists (If-None-Match: *); an ETag fails if the object
   * changed since it was read (If-Match). A failed precondition is a DestinationError saying another run wrote first.
   */
  async putJson(key: string, value: unknown, expect?: 'absent' | { etag: string }): Promise<string | undefined> {
    try {
      const out = await withRetries(`Writing ${this.url(key)}`, () =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: Buffer.from(JSON.stringify(value, null, 2)),
            ContentType: 'application/json',
            ...(expect === 'absent' ? { IfNoneMatch: '*' } : expect ? { IfMatch: expect.etag } : {}),
          }),
        ),
      );
      return out.ETag;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) {
        throw new DestinationError(`${this.url(key)} was written by another run meanwhile (conditional write refused); nothing of this run's state was changed.`, { cause: error });
      }
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

  /** Deletes every object under a prefix (1000 keys per request). */
  async deletePrefix(prefix: string): Promise<number> {
    if (!prefix.endsWith('/')) throw new Error(`refusing to delete a prefix without a trailing slash: ${prefix}`);
    const keys = (await this.list(prefix)).map((o) => o.Key!).filter(Boolean);
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      await withRetries(`Deleting under ${this.url(prefix)}`, () =>
        this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } })),
      );
    }
    return keys.length;
  }

  async deleteKey(key: string): Promise<void> {
    try {
      await withRetries(`Deleting ${this.url(key)}`, () =>
        this.client.send(new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: [{ Key: key }], Quiet: true } })),
      );
    } catch (error) {
      if (!isNotFound(error)) throw new DestinationError(`Deleting ${this.url(key)} failed: ${messageOf(error)}`, { cause: error });
    }
  }
}
