import net from 'node:net';
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

/**
 * A proxy to PostgreSQL that holds back everything the server sends after a CopyDone message for `delayMs`: the
 * COPY's CommandComplete (which carries the row count) then arrives in a later network chunk than the data, as it can
 * through any proxy or on a loaded machine.
 */
async function delayAfterCopyDone(delayMs: number): Promise<{ url: (database: string) => string; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(5432, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    let pending = Buffer.alloc(0);
    let chain = Promise.resolve();
    upstream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 1 + pending.readUInt32BE(1)) {
        const size = 1 + pending.readUInt32BE(1);
        const message = pending.subarray(0, size);
        pending = pending.subarray(size);
        const copyDone = message[0] === 0x63; // 'c'
        chain = chain.then(() => void client.write(message));
        if (copyDone) chain = chain.then(() => new Promise((resolve) => setTimeout(resolve, delayMs)));
      }
    });
    const close = () => (client.destroy(), upstream.destroy());
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}?sslmode=disable`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('copyToStream: the row count', () => {
  it('is the server\'s count when CommandComplete arrives after the data (regression: rows 0, so a full refresh of a merge table wrote an empty table)', async () => {
    const proxy = await delayAfterCopyDone(300);
    try {
      const client = await connect(proxy.url(db.name));
      const sink = new Writable({ write: (_chunk: Buffer, _e, cb) => cb() });
      const r = await copyToStream(client, 'SELECT * FROM big WHERE id <= 1200', sink);
      expect(r.rows).toBe(1200);
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: '1' }]);
      await client.end();
    } finally {
      await proxy.close();
    }
  });

  it('a connection lost between the data and CommandComplete rejects instead of reporting a count', async () => {
    const proxy = await delayAfterCopyDone(2000);
    const client = await connect(proxy.url(db.name));
    client.on('error', () => undefined); // the run's clients listen too (postgres-connection.ts)
    const sink = new Writable({ write: (_chunk: Buffer, _e, cb) => cb() });
    const copy = copyToStream(client, 'SELECT * FROM big WHERE id <= 10', sink);
    setTimeout(() => void proxy.close(), 500);
    await expect(copy).rejects.toThrow(/Connection terminated/);
  });
});
