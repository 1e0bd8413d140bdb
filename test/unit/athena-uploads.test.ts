import { describe, expect, it } from 'vitest';
import { BackgroundUploads, type UploadTarget } from '../../src/destination/athena/athena-uploads.js';
import type { S3Store } from '../../src/destination/athena/s3-store.js';
import { DestinationError } from '../../src/errors.js';

/** A promise with its resolve/reject outside. */
function deferred() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** An S3 stand-in whose uploads settle when the test says so; every call logged in order. */
function target(options: { lockLost?: boolean } = {}) {
  const log: string[] = [];
  const pending = new Map<string, ReturnType<typeof deferred>>();
  const interrupt = new AbortController();
  const s3 = {
    url: (key: string) => `s3://lake/${key}`,
    uploadParquetParts: (folder: string, _files: readonly string[], signal?: AbortSignal) => {
      log.push(`upload ${folder}`);
      const d = deferred();
      pending.set(folder, d);
      signal?.addEventListener('abort', () => d.reject(new Error(`aborted ${folder}`)));
      return d.promise;
    },
    deletePrefix: async (folder: string) => {
      log.push(`delete ${folder}`);
      return 1;
    },
  } as unknown as S3Store;
  const ds: UploadTarget = {
    s3,
    signal: interrupt.signal,
    fence: async (step) => {
      if (options.lockLost) throw new DestinationError(`lost its lock and stopped before ${step}`);
    },
    assertLockHeld: () => undefined,
  };
  const settle = async (folder: string, error?: unknown) => {
    for (let i = 0; i < 20 && !pending.has(folder); i++) await new Promise((r) => setImmediate(r));
    if (error) pending.get(folder)!.reject(error);
    else pending.get(folder)!.resolve();
  };
  return { ds, log, settle, interrupt };
}

describe('background uploads of a load (#16)', () => {
  it('uploads one folder at a time, in order; publishing waits for its folder; finish waits for all', async () => {
    const t = target();
    const uploads = new BackgroundUploads(t.ds);
    uploads.start('a/', ['1']);
    uploads.start('b/', ['2']);
    await new Promise((r) => setTimeout(r, 10));
    expect(t.log).toEqual(['upload a/']);
    await t.settle('a/');
    await uploads.wait('a/');
    const finished = uploads.finish();
    await t.settle('b/');
    await finished;
    expect(t.log).toEqual(['upload a/', 'upload b/']);
    await expect(uploads.wait('c/')).rejects.toThrow(/never uploaded/);
  });

  it('a refused upload nobody awaits yet is held (no unhandled rejection) and rethrown by check, finish and wait; later uploads never start', async () => {
    const t = target();
    const uploads = new BackgroundUploads(t.ds);
    const refused = Object.assign(new Error('Access Denied'), { name: 'AccessDenied' });
    uploads.start('a/', ['1']);
    uploads.start('b/', ['2']);
    await t.settle('a/', refused);
    await new Promise((r) => setTimeout(r, 10));
    expect(() => uploads.check()).toThrow(refused);
    await expect(uploads.finish()).rejects.toBe(refused);
    await expect(uploads.wait('b/')).rejects.toBe(refused);
    expect(t.log).toEqual(['upload a/']);
  });

  it('abandon stops the upload in flight, awaits it, and deletes every started folder no publishing step claimed', async () => {
    const t = target();
    const uploads = new BackgroundUploads(t.ds);
    uploads.start('a/', ['1']);
    uploads.start('b/', ['2']);
    uploads.start('c/', ['3']);
    await t.settle('a/');
    await uploads.wait('a/');
    await new Promise((r) => setTimeout(r, 10));
    // b/ is in flight, c/ queued: abandon aborts b/, c/ never starts; a/ was claimed by its publishing step
    await uploads.abandon();
    expect(t.log).toEqual(['upload a/', 'upload b/', 'delete b/']);
  });

  it('an interrupted run (SIGTERM) stops the uploads in flight; abandon still awaits them', async () => {
    const t = target();
    const uploads = new BackgroundUploads(t.ds);
    uploads.start('a/', ['1']);
    await new Promise((r) => setTimeout(r, 10));
    t.interrupt.abort();
    await expect(uploads.finish()).rejects.toThrow(/aborted a\//);
    await uploads.abandon();
    expect(t.log).toEqual(['upload a/', 'delete a/']);
  });

  it('with the lock lost, nothing is uploaded and abandon deletes nothing (the run holding the lock owns the dataset)', async () => {
    const t = target({ lockLost: true });
    const uploads = new BackgroundUploads(t.ds);
    uploads.start('a/', ['1']);
    await expect(uploads.finish()).rejects.toThrow(/lost its lock and stopped before uploading s3:\/\/lake\/a\//);
    await uploads.abandon();
    expect(t.log).toEqual([]);
  });
});
