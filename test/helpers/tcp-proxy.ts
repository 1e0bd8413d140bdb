import net from 'node:net';

/**
 * A small TCP proxy in front of PostgreSQL, to inject network faults into a real run: it listens on
 * 127.0.0.1:<random port> and forwards every connection to the target (default 127.0.0.1:5432).
 *
 * Faults:
 * - `cut()`: destroy every open connection at once (what a server restart or a dropped network looks like);
 * - `cutAfterServerBytes(n)`: cut once n more bytes have flowed server → client (any message);
 * - `cutAfterCopyBytes(n)`: cut once n more bytes of COPY data (CopyData messages) have flowed server → client, so the
 *   cut lands mid-COPY whatever the size of the handshake and introspection before it;
 * - `cutOnQuery(re)`: cut as soon as a client sends a query (simple or extended protocol) whose SQL matches `re`,
 *   before that query reaches the server (to target a phase: introspection, snapshot export, COPY, …);
 * - `onQuery(re, fn)`: call fn (synchronously, before the query is forwarded) when a query matches, once;
 * - `holdOnQuery(re)`: the first query matching `re` is held back (with whatever that client sends after it) until
 *   the returned promise's release function is called: a step of the client made to wait at a chosen point;
 * - `rejectNew(on)`: accept new connections and close them at once (the server "goes away" between connections);
 * - `refuse()`: stop accepting (new connections get ECONNREFUSED; the port is released) and cut what is open;
 * - `throttle(bytesPerSecond)`: slow server → client traffic, so a run lasts long enough for writers to act.
 *
 * The proxy parses the PostgreSQL wire protocol only as far as message boundaries (type byte + int32 length). It
 * needs plain connections to see queries and COPY data: `url()` adds sslmode=disable. An SSLRequest / GSSENCRequest is
 * followed through (the server's one-byte answer; after an 'S' the connection is encrypted and only forwarded).
 */
export interface TcpProxyOptions {
  readonly targetHost?: string;
  readonly targetPort?: number;
}

export interface TcpProxy {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:<port>/<database>?sslmode=disable */
  url(database: string, user?: string): string;
  /** Destroys every open connection (both sides). `reset` sends a TCP RST instead of a FIN. */
  cut(options?: { reset?: boolean }): void;
  cutAfterServerBytes(bytes: number, options?: { reset?: boolean }): void;
  cutAfterCopyBytes(bytes: number, options?: { reset?: boolean }): void;
  cutOnQuery(pattern: RegExp, options?: { reset?: boolean }): void;
  onQuery(pattern: RegExp, action: (sql: string) => void): void;
  /** Resolves, once a query matching `pattern` arrives, with the function that forwards it (and what followed it). */
  holdOnQuery(pattern: RegExp): Promise<() => void>;
  rejectNew(on: boolean): void;
  /** Clears any armed cut and throttle. */
  disarm(): void;
  throttle(bytesPerSecond: number | undefined): void;
  /** Stops accepting: new connections are refused (the listening socket is closed); open ones are cut. */
  refuse(): Promise<void>;
  close(): Promise<void>;
  /** Resolves at the next cut (armed or explicit). */
  nextCut(): Promise<string>;
  readonly stats: { connections: number; serverBytes: number; copyBytes: number; cuts: number; lastCutReason: string | undefined; queries: string[] };
}

/** Walks PostgreSQL messages across chunk boundaries: calls `onMessage(type, payloadBytesInThisChunk, headerPayload?)`. */
class MessageScanner {
  /** Raw bytes to pass before the next message (the server's one-byte answer to an SSLRequest). */
  rawBytes = 0;
  /** Stop parsing (the connection switched to TLS). */
  opaque = false;
  private header = Buffer.alloc(0);
  private remaining = 0; // payload bytes of the current message still to come
  private type = 0;
  private body: Buffer[] = [];
  constructor(
    /** client → server starts with an untyped startup packet (int32 length, no type byte) */
    public untypedFirst: boolean,
    /** bytes of payload to keep for inspection (query text) per message type; 0: none */
    private readonly keep: (type: number) => number,
    private readonly onPayload: (type: number, bytes: number) => void,
    private readonly onComplete: (type: number, payload: Buffer) => void,
    private readonly onRaw?: (byte: number) => void,
  ) {}

  feed(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length && !this.opaque) {
      if (this.rawBytes > 0) {
        this.rawBytes -= 1;
        this.onRaw?.(chunk[offset]!);
        offset += 1;
        continue;
      }
      if (this.remaining === 0) {
        const headerSize = this.untypedFirst ? 4 : 5;
        const need = headerSize - this.header.length;
        const take = chunk.subarray(offset, offset + need);
        this.header = Buffer.concat([this.header, take]);
        offset += take.length;
        if (this.header.length < headerSize) return;
        this.type = this.untypedFirst ? 0 : this.header[0]!;
        const length = this.header.readInt32BE(this.untypedFirst ? 0 : 1);
        this.untypedFirst = false;
        this.header = Buffer.alloc(0);
        this.remaining = length - 4;
        this.body = [];
        if (this.remaining === 0) this.onComplete(this.type, Buffer.alloc(0));
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - offset);
      const part = chunk.subarray(offset, offset + take);
      offset += take;
      this.remaining -= take;
      this.onPayload(this.type, take);
      const limit = this.keep(this.type);
      if (limit > 0) this.body.push(part);
      if (this.remaining === 0) {
        const payload = limit > 0 ? Buffer.concat(this.body).subarray(0, limit) : Buffer.alloc(0);
        this.body = [];
        this.onComplete(this.type, payload);
      }
    }
  }
}

const Q = 'Q'.charCodeAt(0);
const P = 'P'.charCodeAt(0);
const D = 'd'.charCodeAt(0);
const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

/** The SQL text of a Query ('Q': text\0) or Parse ('P': name\0 text\0 …) message. */
function queryText(type: number, payload: Buffer): string | undefined {
  if (type === Q) return payload.toString('utf8').replace(/\0.*$/s, '');
  if (type === P) {
    const nameEnd = payload.indexOf(0);
    if (nameEnd < 0) return undefined;
    const textEnd = payload.indexOf(0, nameEnd + 1);
    return payload.subarray(nameEnd + 1, textEnd < 0 ? undefined : textEnd).toString('utf8');
  }
  return undefined;
}

export async function startTcpProxy(options: TcpProxyOptions = {}): Promise<TcpProxy> {
  const targetHost = options.targetHost ?? '127.0.0.1';
  const targetPort = options.targetPort ?? 5432;
  const pairs = new Set<{ client: net.Socket; server: net.Socket }>();
  const stats: TcpProxy['stats'] = { connections: 0, serverBytes: 0, copyBytes: 0, cuts: 0, lastCutReason: undefined, queries: [] };
  let serverBytesLimit: number | undefined; // absolute value of stats.serverBytes at which to cut
  let copyBytesLimit: number | undefined;
  let queryPattern: RegExp | undefined;
  let resetOnCut = false;
  let queryHooks: { pattern: RegExp; action: (sql: string) => void }[] = [];
  let holdHooks: { pattern: RegExp; held: (release: () => void) => void }[] = [];
  let rejecting = false;
  let bytesPerSecond: number | undefined;
  let waiters: ((reason: string) => void)[] = [];

  const cutAll = (reason: string, reset = resetOnCut) => {
    stats.cuts += 1;
    stats.lastCutReason = reason;
    serverBytesLimit = undefined;
    copyBytesLimit = undefined;
    queryPattern = undefined;
    resetOnCut = false;
    for (const pair of pairs) {
      for (const s of [pair.client, pair.server]) {
        if (reset && typeof s.resetAndDestroy === 'function' && !s.destroyed) s.resetAndDestroy();
        else s.destroy();
      }
    }
    pairs.clear();
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve(reason);
  };

  const server = net.createServer((client) => {
    stats.connections += 1;
    if (rejecting) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, targetHost);
    const pair = { client, server: upstream };
    pairs.add(pair);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);

    const fromClient = new MessageScanner(
      true,
      (type) => (type === Q || type === P ? 64 * 1024 : type === 0 ? 8 : 0),
      () => undefined,
      (type, payload) => {
        if (type === 0 && payload.length === 4 && [SSL_REQUEST, GSSENC_REQUEST].includes(payload.readInt32BE(0))) {
          // the server answers with one byte; the startup packet (untyped again) follows unless it says 'S'/'G'
          fromClient.untypedFirst = true;
          fromServer.rawBytes = 1;
          return;
        }
        const sql = queryText(type, payload);
        if (sql === undefined) return;
        stats.queries.push(sql);
        const hooks = queryHooks.filter((h) => h.pattern.test(sql));
        queryHooks = queryHooks.filter((h) => !hooks.includes(h));
        for (const h of hooks) h.action(sql);
        const hold = holdHooks.find((h) => h.pattern.test(sql));
        if (hold && !heldChunks) {
          holdHooks = holdHooks.filter((h) => h !== hold);
          heldChunks = [];
          hold.held(() => {
            const chunks = heldChunks ?? [];
            heldChunks = undefined;
            for (const c of chunks) if (!upstream.destroyed) upstream.write(c);
          });
        }
        if (queryPattern && queryPattern.test(sql)) pendingQueryCut = `query matched ${String(queryPattern)}: ${sql.slice(0, 80)}`;
      },
    );
    let pendingQueryCut: string | undefined;
    // chunks held back by holdOnQuery (from the one holding the matched query on), until released
    let heldChunks: Buffer[] | undefined;
    client.on('data', (chunk: Buffer) => {
      fromClient.feed(chunk);
      if (pendingQueryCut) {
        const reason = pendingQueryCut;
        pendingQueryCut = undefined;
        cutAll(reason); // the query never reaches the server
        return;
      }
      if (heldChunks) {
        heldChunks.push(chunk);
        return;
      }
      if (!upstream.destroyed) upstream.write(chunk);
    });

    const fromServer: MessageScanner = new MessageScanner(
      false,
      () => 0,
      (type, bytes) => {
        if (type === D) stats.copyBytes += bytes;
      },
      () => undefined,
      (answer) => {
        if (answer === 'S'.charCodeAt(0) || answer === 'G'.charCodeAt(0)) {
          fromServer.opaque = true;
          fromClient.opaque = true;
        }
      },
    );
    let windowStart = Date.now();
    let windowBytes = 0;
    upstream.on('data', (chunk: Buffer) => {
      stats.serverBytes += chunk.length;
      fromServer.feed(chunk);
      if (!client.destroyed) client.write(chunk);
      if (serverBytesLimit !== undefined && stats.serverBytes >= serverBytesLimit) return cutAll(`after ${stats.serverBytes} server bytes`);
      if (copyBytesLimit !== undefined && stats.copyBytes >= copyBytesLimit) return cutAll(`after ${stats.copyBytes} COPY bytes`);
      if (bytesPerSecond !== undefined) {
        windowBytes += chunk.length;
        const elapsed = (Date.now() - windowStart) / 1000;
        const due = windowBytes / bytesPerSecond - elapsed;
        if (due > 0.005) {
          upstream.pause();
          setTimeout(() => {
            if (!upstream.destroyed) upstream.resume();
          }, due * 1000);
        }
        if (elapsed > 1) {
          windowStart = Date.now();
          windowBytes = 0;
        }
      }
    });
    upstream.on('end', () => client.end());
    client.on('end', () => upstream.end());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  let listening = true;
  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!listening) return resolve();
      listening = false;
      server.close(() => resolve());
    });

  return {
    port,
    stats,
    url: (database, user = 'postgres') => `postgres://${user}@127.0.0.1:${port}/${database}?sslmode=disable`,
    cut: (o) => cutAll('cut()', o?.reset ?? false),
    cutAfterServerBytes: (bytes, o) => {
      serverBytesLimit = stats.serverBytes + bytes;
      resetOnCut = o?.reset ?? false;
    },
    cutAfterCopyBytes: (bytes, o) => {
      copyBytesLimit = stats.copyBytes + bytes;
      resetOnCut = o?.reset ?? false;
    },
    cutOnQuery: (pattern, o) => {
      queryPattern = pattern;
      resetOnCut = o?.reset ?? false;
    },
    onQuery: (pattern, action) => {
      queryHooks.push({ pattern, action });
    },
    holdOnQuery: (pattern) => new Promise<() => void>((held) => holdHooks.push({ pattern, held })),
    rejectNew: (on) => {
      rejecting = on;
    },
    disarm: () => {
      serverBytesLimit = undefined;
      copyBytesLimit = undefined;
      queryPattern = undefined;
      resetOnCut = false;
      queryHooks = [];
      holdHooks = [];
      rejecting = false;
      bytesPerSecond = undefined;
    },
    throttle: (rate) => {
      bytesPerSecond = rate;
    },
    nextCut: () => new Promise<string>((resolve) => waiters.push(resolve)),
    refuse: async () => {
      const closing = stopListening();
      cutAll('refuse()');
      await closing;
    },
    close: async () => {
      const closing = stopListening();
      for (const pair of pairs) {
        pair.client.destroy();
        pair.server.destroy();
      }
      pairs.clear();
      await closing;
    },
  };
}
