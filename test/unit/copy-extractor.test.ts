import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyToStream } from '../../src/source/postgres/copy-extractor.js';
import { connect, createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  // ~13 MB of CSV: far more than the socket buffers hold, so the server is still sending when the sink fails
  await db.query(`CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 4) AS payload FROM generate_series(1, 100000) g`);
});

afterAll(async () => {
  await db?.drop();
});

/** A sink that takes `limit` bytes, then fails every write as a full disk does. */
function diskFullAfter(limit: number): Writable {
  let written = 0;
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      written += chunk.length;
      if (written <= limit) return callback();
      callback(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' }));
    },
  });
}

/** Whether the promise settles within ms (a hang is what broke). */
async function settles(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const settled = promise.then(() => true, () => true);
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('copyToStream: the sink fails mid-stream', () => {
  it('a full disk mid-COPY rejects with ENOSPC and leaves no query on the connection waiting forever (regression: the ROLLBACK after it never settled, so Node exited 0 with no message)', async () => {
    const client = await connect(db.url);
    await client.query('BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const copy = copyToStream(client, 'SELECT * FROM big', diskFullAfter(1 << 20));
    await expect(copy).rejects.toMatchObject({ code: 'ENOSPC' });
    // what the run does next: roll back and close; both must settle (a rejection is fine, the connection is gone)
    expect(await settles(client.query('ROLLBACK'), 5000), 'ROLLBACK after the failed COPY never settled').toBe(true);
    expect(await settles(client.end(), 5000), 'end() after the failed COPY never settled').toBe(true);
  });

  it('a COPY that completes leaves the connection usable', async () => {
    const client = await connect(db.url);
    let bytes = 0;
    const sink = new Writable({ write: (chunk: Buffer, _e, cb) => ((bytes += chunk.length), cb()) });
    const r = await copyToStream(client, 'SELECT * FROM big WHERE id <= 1000', sink);
    expect(r.rows).toBe(1000);
    expect(r.bytes).toBe(bytes);
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: '1' }]);
    await client.end();
  });
});
