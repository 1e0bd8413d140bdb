import { InterruptedError } from '../../errors.js';
import type { S3Store } from './s3-store.js';

/** What the background uploads need of the dataset (AthenaDataset provides it). */
export interface UploadTarget {
  readonly s3: S3Store;
  /** Aborted when the run is interrupted (SIGTERM/SIGINT): the uploads in flight stop. */
  readonly signal: AbortSignal;
  fence(step: string): Promise<void>;
  assertLockHeld(): void;
}

interface Upload {
  readonly folder: string;
  /** Settles when this folder's upload has; its rejection is always handled (see start). */
  readonly done: Promise<void>;
  /** The upload began (its folder may hold objects). */
  started: boolean;
  /** A publishing step waited for it: from then on a Glue table or a staging table may read the folder. */
  claimed: boolean;
}

/**
 * The uploads of a load's batch files, in the background (issue #16): a table's files are uploaded as soon as the
 * table is typed and checked, while the next tables are typed (and while the clean-up of earlier runs goes on). One
 * table's folder at a time, in the order they were started, each two files at a time (S3Store). Publishing begins only
 * once all of them are done (finish), and each table's publishing step waits for its own upload (wait).
 *
 * Nothing is published before every table is typed and checked and every upload is done, so a failure before that (a
 * value that does not fit, an upload refused, a lost lock, a signal) leaves only this run's uploaded folders, which no
 * table reads. abandon()
 * removes them: queued uploads never start, the ones in flight are stopped and awaited (no request of this run is left
 * running), then each folder no publishing step has claimed is deleted, fenced by the lock, best effort — whatever
 * stays (a delete refused, a kill, a small file's PUT that lands after its abort) is removed by the next run's
 * clean-up (athena-cleanup.ts).
 */
export class BackgroundUploads {
  private readonly uploads = new Map<string, Upload>();
  /** The last upload started, settled (never rejects): the next one starts after it. */
  private tail: Promise<void> = Promise.resolve();
  private failure: { readonly error: unknown } | undefined;
  /** Aborted by abandon(), and when the run is interrupted. */
  private readonly abort = new AbortController();

  constructor(private readonly ds: UploadTarget) {
    const stop = () => this.abort.abort();
    if (ds.signal.aborted) stop();
    else ds.signal.addEventListener('abort', stop, { once: true });
  }

  /** Queues the upload of `files` into `folder` (S3 keys part-00000.zstd.parquet, …): it starts after the ones before it. */
  start(folder: string, files: readonly string[]): void {
    if (this.uploads.has(folder)) throw new Error(`${folder} is uploaded twice (a bug)`);
    const upload: Upload = {
      folder,
      started: false,
      claimed: false,
      done: this.tail.then(async () => {
        // after a failure (or abandon) nothing more starts: this upload fails with the first failure
        if (this.failure) throw this.failure.error;
        if (this.abort.signal.aborted) throw new InterruptedError(`The upload of ${this.ds.s3.url(folder)} was not started: the load stopped.`);
        upload.started = true;
        this.ds.assertLockHeld();
        await this.ds.fence(`uploading ${this.ds.s3.url(folder)}`);
        await this.ds.s3.uploadParquetParts(folder, files, this.abort.signal);
      }),
    };
    // the rejection is handled here at once, while the next tables are typed, and kept: check() and wait() rethrow it
    this.tail = upload.done.then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= { error };
      },
    );
    this.uploads.set(folder, upload);
  }

  /** Throws the first failure of an upload so far (called between tables: a refused upload stops the typing early). */
  check(): void {
    if (this.failure) throw this.failure.error;
  }

  /**
   * Waits for every upload started, and rethrows the first failure: the publishing steps begin only once every file of
   * the run is in S3, so a refused upload publishes nothing.
   */
  async finish(): Promise<void> {
    await this.tail;
    this.check();
  }

  /** Waits for the upload into `folder` (rethrowing its failure); the folder is the publishing step's from now on. */
  async wait(folder: string): Promise<void> {
    const upload = this.uploads.get(folder);
    if (!upload) throw new Error(`${folder} was never uploaded (a bug)`);
    upload.claimed = true;
    await upload.done;
  }

  /** After a failure of the load: stops and awaits every upload, then deletes the folders nothing claimed (see the class). */
  async abandon(): Promise<void> {
    this.abort.abort();
    await this.tail;
    for (const upload of this.uploads.values()) {
      if (!upload.started || upload.claimed) continue;
      try {
        this.ds.assertLockHeld();
        await this.ds.fence(`removing ${this.ds.s3.url(upload.folder)} (this run stopped before publishing it)`);
        await this.ds.s3.deletePrefix(upload.folder);
      } catch {
        // best effort: the next run's clean-up removes the folder (no table reads it)
      }
    }
  }
}
