import { describe, expect, it } from 'vitest';
import { DatasetLock, type LockStore } from '../../src/destination/athena/dataset-lock.js';
import { resolveLockTiming } from '../../src/config/runtime-settings.js';
import { DestinationError } from '../../src/errors.js';
import { rejection } from '../helpers/expect-error.js';

/** An in-memory object store with S3's conditional-write semantics (If-None-Match: *, If-Match). */
function memoryStore() {
  const objects = new Map<string, { body: string; etag: string }>();
  let n = 0;
  const store: LockStore & { objects: typeof objects; puts: number } = {
    objects,
    puts: 0,
    async getJson<T>(key: string) {
      const o = objects.get(key);
      return o ? { value: JSON.parse(o.body) as T, etag: o.etag } : undefined;
    },
    async putJson(key, value, expect) {
      const o = objects.get(key);
      // as S3Store reports a refused If-None-Match / If-Match
      if (expect === 'absent' && o) throw new DestinationError(`${key} exists (conditional write refused)`);
      if (expect && expect !== 'absent' && o?.etag !== expect.etag) throw new DestinationError(`${key} changed (conditional write refused)`);
      n += 1;
      store.puts += 1;
      const etag = `"e${n}"`;
      objects.set(key, { body: JSON.stringify(value), etag });
      return etag;
    },
    async deleteKey(key, etag) {
      // as S3's DeleteObject with If-Match
      if (etag !== undefined && objects.has(key) && objects.get(key)!.etag !== etag) throw new DestinationError(`${key} changed (conditional delete refused)`);
      objects.delete(key);
    },
    url: (key) => `s3://lake/${key}`,
  };
  return store;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const timing = { heartbeatMs: 20, staleMs: 150 };

describe('the dataset lock in S3', () => {
  it('a live run renews its lock, so a second run is refused with a clear message', async () => {
    const store = memoryStore();
    const warnings: string[] = [];
    const first = new DatasetLock(store, 'lock.json', 'raw', timing, (m) => warnings.push(m));
    await first.take('run-1');
    await sleep(300); // twice the stale limit: only the renewals keep it alive
    const second = new DatasetLock(store, 'lock.json', 'raw', timing, (m) => warnings.push(m));
    await expect(second.take('run-2')).rejects.toThrow(/locked by another ingesta run .*last renewed .*not renewed for 0 s belongs to a dead run/);
    const body = JSON.parse(store.objects.get('lock.json')!.body) as { run_id: string; heartbeat_at: string; started_at: string };
    expect(body.run_id).toBe('run-1');
    expect(Date.parse(body.heartbeat_at)).toBeGreaterThan(Date.parse(body.started_at));
    await first.release();
    expect(store.objects.has('lock.json')).toBe(false);
    expect(warnings).toEqual([]);
  });

  it('a lock no longer renewed (its run was SIGKILLed) is taken over after the stale limit, and says so', async () => {
    const store = memoryStore();
    const old = new Date(Date.now() - 1000).toISOString();
    await store.putJson('lock.json', { run_id: 'dead', host: 'task-1', pid: 7, started_at: old, heartbeat_at: old }, 'absent');
    const warnings: string[] = [];
    const lock = new DatasetLock(store, 'lock.json', 'raw', timing, (m) => warnings.push(m));
    await lock.take('run-3');
    expect(warnings[0]).toMatch(/taking over the lock of run dead \(task-1, pid 7\)/);
    expect(JSON.parse(store.objects.get('lock.json')!.body).run_id).toBe('run-3');
    await lock.release();
  });

  it('a run whose lock was taken over stops renewing and knows it lost the lock', async () => {
    const store = memoryStore();
    const warnings: string[] = [];
    const lock = new DatasetLock(store, 'lock.json', 'raw', timing, (m) => warnings.push(m));
    await lock.take('slow');
    // another run replaced it (as after a long pause of this one)
    store.objects.set('lock.json', { body: JSON.stringify({ run_id: 'other' }), etag: '"other"' });
    await sleep(80);
    expect(lock.lost).toMatch(/changed/);
    expect(warnings.some((w) => w.includes('could not be renewed'))).toBe(true);
    await lock.release();
    // releasing a lost lock must not delete the other run's lock
    expect(JSON.parse(store.objects.get('lock.json')!.body).run_id).toBe('other');
  });

  it('a renewal slower than the interval never overlaps the next (regression: the second sent a stale ETag and the lock counted as lost)', async () => {
    const store = memoryStore();
    const slow: LockStore = {
      ...store,
      async putJson(key, value, expect) {
        await sleep(60); // three intervals
        return store.putJson(key, value, expect);
      },
    };
    const warnings: string[] = [];
    const lock = new DatasetLock(slow, 'lock.json', 'raw', timing, (m) => warnings.push(m));
    await lock.take('slow-store');
    await sleep(300);
    expect(lock.lost).toBeUndefined();
    expect(warnings).toEqual([]);
    expect(store.puts).toBeGreaterThan(2);
    await lock.release();
    expect(store.objects.has('lock.json')).toBe(false);
  });

  it('a renewal failing for another reason than a refused condition (S3 unreachable) keeps the lock and tries again', async () => {
    const store = memoryStore();
    let failing = true;
    const flaky: LockStore = {
      ...store,
      async putJson(key, value, expect) {
        if (failing && expect !== 'absent') throw new Error('connect ECONNREFUSED');
        return store.putJson(key, value, expect);
      },
    };
    const warnings: string[] = [];
    const lock = new DatasetLock(flaky, 'lock.json', 'raw', timing, (m) => warnings.push(m));
    await lock.take('flaky');
    await sleep(60);
    expect(lock.lost).toBeUndefined();
    expect(warnings.some((w) => w.includes('trying again'))).toBe(true);
    failing = false;
    const before = store.puts;
    await sleep(60);
    expect(store.puts).toBeGreaterThan(before);
    await lock.release();
  });

  it('release waits for a renewal in flight, so the lock is not written again after it is deleted', async () => {
    const store = memoryStore();
    const slow: LockStore = {
      ...store,
      getJson: store.getJson,
      deleteKey: store.deleteKey,
      url: store.url,
      async putJson(key, value, expect) {
        await sleep(40);
        return store.putJson(key, value, expect);
      },
    };
    const lock = new DatasetLock(slow, 'lock.json', 'raw', timing, () => undefined);
    await lock.take('r');
    await sleep(30); // a renewal is in flight now
    await lock.release();
    await sleep(100);
    expect(store.objects.has('lock.json')).toBe(false);
  });

  it('a run stalled past the stale time whose lock was taken over stops before its next state-changing step (regression: it kept running MERGEs)', async () => {
    const store = memoryStore();
    // stalled: no renewal reaches S3 before the lock is stale
    const stalled = new DatasetLock(store, 'lock.json', 'raw', { heartbeatMs: 60_000, staleMs: 100 }, () => undefined);
    await stalled.take('stalled');
    await stalled.check('the MERGE into raw.contents'); // still its own
    await sleep(150);
    const other = new DatasetLock(store, 'lock.json', 'raw', { heartbeatMs: 60_000, staleMs: 100 }, () => undefined);
    await other.take('other');
    const error = await rejection(stalled.check('the MERGE into raw.contents'));
    expect(error).toBeInstanceOf(DestinationError);
    expect((error as DestinationError).exitCode).toBe(5);
    expect((error as Error).message).toMatch(/lost its lock on raw \(now held by run other .*\) and stopped before the MERGE into raw.contents/);
    await stalled.release();
    expect(JSON.parse(store.objects.get('lock.json')!.body).run_id).toBe('other');
    await other.release();
    expect(store.objects.has('lock.json')).toBe(false);
  });

  it('release never deletes another run\'s lock, even before this run noticed the takeover (regression: it deleted lock.json unchecked)', async () => {
    const store = memoryStore();
    const lock = new DatasetLock(store, 'lock.json', 'raw', { heartbeatMs: 60_000, staleMs: 100 }, () => undefined);
    await lock.take('slow');
    store.objects.set('lock.json', { body: JSON.stringify({ run_id: 'other', host: 'task-2', pid: 9, started_at: new Date().toISOString() }), etag: '"other"' });
    expect(lock.lost).toBeUndefined();
    await lock.release();
    expect(JSON.parse(store.objects.get('lock.json')!.body).run_id).toBe('other');
  });

  it('INGESTA_LOCK_STALE_AFTER sets the stale limit; renewals come ten times as often, at most every 30 s', () => {
    expect(resolveLockTiming({})).toEqual({ heartbeatMs: 30_000, staleMs: 300_000 });
    expect(resolveLockTiming({ INGESTA_LOCK_STALE_AFTER: '1 hour' })).toEqual({ heartbeatMs: 30_000, staleMs: 3_600_000 });
    expect(resolveLockTiming({ INGESTA_LOCK_STALE_AFTER: '20s' })).toEqual({ heartbeatMs: 2_000, staleMs: 20_000 });
    expect(() => resolveLockTiming({ INGESTA_LOCK_STALE_AFTER: 'soon' })).toThrow();
  });
});
