import { hostname } from 'node:os';
import { DEFAULT_LOCK_TIMING, type LockTiming } from '../../config/runtime-settings.js';
import { DestinationError, messageOf } from '../../errors.js';

// the timing is resolved with the config (INGESTA_LOCK_STALE_AFTER, config/runtime-settings.ts)
export { DEFAULT_LOCK_TIMING, type LockTiming } from '../../config/runtime-settings.js';

/** The conditional JSON writes the lock needs (S3Store provides them). */
export interface LockStore {
  getJson<T>(key: string): Promise<{ value: T; etag: string | undefined } | undefined>;
  /** 'absent': If-None-Match: *; { etag }: If-Match. Refused preconditions throw. Returns the new ETag. */
  putJson(key: string, value: unknown, expect?: 'absent' | { etag: string }): Promise<string | undefined>;
  /** With `etag`: deletes only that version (If-Match); a refused precondition throws. */
  deleteKey(key: string, etag?: string): Promise<void>;
  url(key: string): string;
}

interface LockBody {
  readonly run_id: string | null;
  readonly host: string;
  readonly pid: number;
  readonly started_at: string;
  /** Renewed every heartbeat while the run lives; absent in locks written by older versions. */
  readonly heartbeat_at?: string;
}

/** A conditional write refused (HTTP 412/409): the object is not the one this run wrote. */
function refusedPrecondition(error: unknown): boolean {
  const status = (error as { cause?: { $metadata?: { httpStatusCode?: number } } } | null)?.cause?.$metadata?.httpStatusCode;
  return status === 412 || status === 409 || (error instanceof DestinationError && /conditional write refused/.test(error.message));
}

/**
 * One run at a time per dataset, across hosts, in S3: the lock object is read first (a store that ignores
 * conditional writes still sees a live lock), then written with If-None-Match: * (or If-Match on a stale lock's ETag),
 * so two runs racing for it cannot both win. While held it is renewed (If-Match on its own ETag) so a run killed
 * without releasing it is recognised within minutes, not hours.
 */
export class DatasetLock {
  private etag: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private body: LockBody | undefined;
  private renewing: Promise<void> = Promise.resolve();
  /** Set when a renewal was refused: another run took the lock over. */
  lost: string | undefined;

  constructor(
    private readonly store: LockStore,
    private readonly key: string,
    private readonly dataset: string,
    private readonly timing: LockTiming = DEFAULT_LOCK_TIMING,
    private readonly warn: (message: string) => void = (m) => process.stderr.write(`ingesta: warning: ${m}\n`),
  ) {}

  async take(runId: string | undefined): Promise<void> {
    const now = new Date().toISOString();
    const body: LockBody = { run_id: runId ?? null, host: hostname(), pid: process.pid, started_at: now, heartbeat_at: now };
    const current = await this.store.getJson<LockBody>(this.key);
    if (current) {
      const seen = Date.parse(current.value.heartbeat_at ?? current.value.started_at);
      const silentMs = Date.now() - seen;
      if (!(silentMs > this.timing.staleMs) || !current.etag) {
        throw new DestinationError(
          `Dataset ${this.dataset} is locked by another ingesta run (${current.value.host}, pid ${current.value.pid}, since ${current.value.started_at}, ` +
            `last renewed ${current.value.heartbeat_at ?? current.value.started_at}). Wait for it to finish; a lock not renewed for ` +
            `${this.timing.staleMs >= 60_000 ? `${Math.round(this.timing.staleMs / 60_000)} minutes` : `${Math.round(this.timing.staleMs / 1000)} s`} belongs to a dead run and is taken over, or delete ${this.store.url(this.key)} if you are sure it died.`,
        );
      }
      this.warn(
        `taking over the lock of run ${current.value.run_id ?? '?'} (${current.value.host}, pid ${current.value.pid}): not renewed since ` +
          `${current.value.heartbeat_at ?? current.value.started_at}, so that run died; the next steps clean up what it left`,
      );
    }
    this.etag = (await this.store.putJson(this.key, body, current?.etag ? { etag: current.etag } : 'absent')) ?? 'held';
    this.body = body;
    this.schedule();
  }

  /** One renewal at a time: the next is scheduled when the previous one has finished (a slow PUT never overlaps). */
  private schedule(): void {
    this.timer = setTimeout(() => {
      this.renewing = this.renew().then(() => {
        if (this.timer !== undefined && !this.lost) this.schedule();
      });
    }, this.timing.heartbeatMs);
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    if (!this.body || !this.etag) return;
    const body = { ...this.body, heartbeat_at: new Date().toISOString() };
    try {
      this.etag = (await this.store.putJson(this.key, body, this.etag === 'held' ? undefined : { etag: this.etag })) ?? this.etag;
    } catch (error) {
      if (!refusedPrecondition(error)) {
        // S3 unreachable for a while (retries exhausted): the lock is still ours; the next renewal tries again
        this.warn(`the lock ${this.store.url(this.key)} could not be renewed this time (${messageOf(error)}); trying again`);
        return;
      }
      // refused: another run decided this one was dead and took over; stop renewing, say so
      this.stopRenewing();
      this.lost = messageOf(error);
      this.warn(`the lock ${this.store.url(this.key)} could not be renewed (${this.lost}); another run has taken it over`);
    }
  }

  private stopRenewing(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Fences a state-changing step (an Athena or Glue call, which cannot carry an S3 precondition): the lock is read
   * again and must still be this run's. A run that stalled past the stale time and was taken over stops here, before
   * it writes anything more. Throws DestinationError (exit 5) when the lock is lost.
   */
  async check(step: string): Promise<void> {
    if (!this.body) return;
    await this.renewing;
    if (!this.lost) {
      const current = await this.store.getJson<LockBody>(this.key);
      if (!current || !this.owns(current.value)) {
        this.stopRenewing();
        this.lost = current ? `now held by run ${current.value.run_id ?? '?'} (${current.value.host}, pid ${current.value.pid})` : 'the lock object is gone';
      }
    }
    if (this.lost) {
      throw new DestinationError(
        `This run lost its lock on ${this.dataset} (${this.lost}) and stopped before ${step}: another run took it over, so this one changes nothing ` +
          'more and writes no state (tables it already published stay readable; the other run, or the next one, brings them in line). Run again once the other has finished.',
      );
    }
  }

  /** Whether a lock body read from the store is the one this run wrote (renewals change only heartbeat_at). */
  private owns(value: LockBody): boolean {
    const mine = this.body;
    return !!mine && value.run_id === mine.run_id && value.host === mine.host && value.pid === mine.pid && value.started_at === mine.started_at;
  }

  /** Deletes the lock only while it is still this run's: read back, then a delete conditional on that version. */
  async release(): Promise<void> {
    this.stopRenewing();
    // a renewal in flight must land before the delete, or it would write the lock again
    await this.renewing;
    if (!this.etag || this.lost) {
      this.etag = undefined;
      return;
    }
    this.etag = undefined;
    try {
      const current = await this.store.getJson<LockBody>(this.key);
      if (!current) return;
      if (!this.owns(current.value)) {
        this.warn(`the lock ${this.store.url(this.key)} now belongs to run ${current.value.run_id ?? '?'}: left in place`);
        return;
      }
      await this.store.deleteKey(this.key, current.etag);
    } catch (error) {
      this.warn(`could not release the lock ${this.store.url(this.key)}: ${messageOf(error)}`);
    }
  }
}
