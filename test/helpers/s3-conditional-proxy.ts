import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A thin HTTP layer in front of s3rver, which ignores `If-Match` / `If-None-Match` on PUT: this one honours them as
 * S3 does (412 PreconditionFailed when the object exists for `If-None-Match: *`, or its ETag differs for `If-Match`;
 * 404 NoSuchKey for `If-Match` on a missing object), one conditional PUT per key at a time. It can also inject the
 * faults S3 clients must survive:
 * - a lost response: the PUT (or any request) reaches s3rver and succeeds, then the client's connection is reset
 *   (or it gets a 500), so a retry meets its own write;
 * - a per-key error inside a 200 DeleteObjects answer: that key is not deleted and is listed as an <Error>;
 * - a refused request (403 AccessDenied, say), answered without reaching s3rver;
 * - a held request: it reaches s3rver only once a test's gate resolves (what the client does meanwhile shows).
 */
export interface S3Proxy {
  readonly url: string;
  /** The next `times` requests matching `method` and a key (path after the bucket) matching `key` lose their response. */
  loseResponse(method: string, key: RegExp, times?: number, how?: 'reset' | '500'): void;
  /** Keys matching `key` are refused inside DeleteObjects answers (`times` requests), with `code` (AccessDenied). */
  failDeletes(key: RegExp, times?: number, code?: string): void;
  /** The next `times` requests matching `method` and `key` are refused with `status` and `code` (never reach s3rver). */
  refuse(method: string, key: RegExp, times?: number, status?: number, code?: string): void;
  /** Requests matching `method` and `key` wait for `gate(key)` before they reach s3rver. */
  hold(method: string, key: RegExp, gate: (key: string) => Promise<void>): void;
  /** Forgets every fault and hold not used up yet. */
  clearFaults(): void;
  /** Requests seen, "METHOD key [status]". */
  readonly log: string[];
  stop(): Promise<void>;
}

interface Upstream {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const xmlError = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;

export async function startS3Proxy(upstreamUrl: string): Promise<S3Proxy> {
  const upstream = new URL(upstreamUrl);
  const lost: { method: string; key: RegExp; times: number; how: 'reset' | '500' }[] = [];
  const deleteFaults: { key: RegExp; times: number; code: string }[] = [];
  const refusals: { method: string; key: RegExp; times: number; status: number; code: string }[] = [];
  const holds: { method: string; key: RegExp; gate: (key: string) => Promise<void> }[] = [];
  const locks = new Map<string, Promise<unknown>>();
  const log: string[] = [];

  const forward = (method: string, path: string, headers: IncomingHttpHeaders, body: Buffer): Promise<Upstream> =>
    new Promise((resolve, reject) => {
      const out = request({ host: upstream.hostname, port: upstream.port, method, path, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 500, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      });
      out.on('error', reject);
      out.end(body);
    });

  const withKeyLock = async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const previous = locks.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    locks.set(key, next.catch(() => undefined));
    return next;
  };

  const handle = async (method: string, url: string, headers: IncomingHttpHeaders, body: Buffer): Promise<Upstream> => {
    const path = url.split('?')[0]!;
    const ifNoneMatch = headers['if-none-match'];
    const ifMatch = headers['if-match'];
    if (method === 'PUT' && (ifNoneMatch !== undefined || ifMatch !== undefined)) {
      return withKeyLock(path, async () => {
        const head = await forward('HEAD', path, { host: headers.host }, Buffer.alloc(0));
        const { 'if-none-match': _n, 'if-match': _m, ...rest } = headers;
        if (ifNoneMatch !== undefined && head.status === 200) {
          return { status: 412, headers: { 'content-type': 'application/xml' }, body: Buffer.from(xmlError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold')) };
        }
        if (ifMatch !== undefined) {
          if (head.status === 404) return { status: 404, headers: { 'content-type': 'application/xml' }, body: Buffer.from(xmlError('NoSuchKey', 'The specified key does not exist.')) };
          if (String(head.headers.etag) !== String(ifMatch)) {
            return { status: 412, headers: { 'content-type': 'application/xml' }, body: Buffer.from(xmlError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold')) };
          }
        }
        return forward(method, url, rest, body);
      });
    }
    if (method === 'POST' && /[?&]delete(=|&|$)/.test(url) && deleteFaults.length > 0) {
      const refused: { key: string; code: string }[] = [];
      const xml = body.toString('utf8').replace(/<Object>\s*<Key>([\s\S]*?)<\/Key>[\s\S]*?<\/Object>/g, (whole, key: string) => {
        const fault = deleteFaults.find((f) => f.times > 0 && f.key.test(key));
        if (!fault) return whole;
        fault.times--;
        refused.push({ key, code: fault.code });
        return '';
      });
      const { 'content-md5': _md5, ...rest } = headers;
      const answer = await forward(method, url, rest, Buffer.from(xml));
      if (answer.status !== 200 || refused.length === 0) return answer;
      const errors = refused.map((r) => `<Error><Key>${r.key}</Key><Code>${r.code}</Code><Message>${r.code}</Message></Error>`).join('');
      const text = answer.body.toString('utf8');
      const patched = /<\/DeleteResult>/.test(text) ? text.replace('</DeleteResult>', `${errors}</DeleteResult>`) : text.replace(/<DeleteResult([^>]*)\/>/, `<DeleteResult$1>${errors}</DeleteResult>`);
      return { ...answer, body: Buffer.from(patched) };
    }
    return forward(method, url, headers, body);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const url = req.url ?? '/';
      const key = decodeURIComponent(url.split('?')[0]!.replace(/^\/[^/]+\/?/, ''));
      const refusal = refusals.find((f) => f.times > 0 && f.method === method && f.key.test(key));
      if (refusal) refusal.times--;
      const held = holds.find((h) => h.method === method && h.key.test(key));
      const answered: Promise<Upstream> = refusal
        ? Promise.resolve({ status: refusal.status, headers: { 'content-type': 'application/xml' }, body: Buffer.from(xmlError(refusal.code, refusal.code)) })
        : (held ? held.gate(key) : Promise.resolve()).then(() => handle(method, url, req.headers, Buffer.concat(chunks)));
      answered.then(
        (answer) => {
          log.push(`${method} ${key} ${answer.status}`);
          const fault = lost.find((f) => f.times > 0 && f.method === method && f.key.test(key));
          if (fault && answer.status < 300) {
            fault.times--;
            if (fault.how === 'reset') {
              req.socket.destroy();
              return;
            }
            res.writeHead(500, { 'content-type': 'application/xml' });
            res.end(xmlError('InternalError', 'We encountered an internal error. Please try again.'));
            return;
          }
          const { 'content-length': _l, 'transfer-encoding': _t, connection: _c, ...headers } = answer.headers;
          const length = method === 'HEAD' ? answer.headers['content-length'] : String(answer.body.length);
          res.writeHead(answer.status, { ...headers, ...(length !== undefined ? { 'content-length': length } : {}) });
          res.end(method === 'HEAD' ? undefined : answer.body);
        },
        (error: unknown) => {
          res.writeHead(502, { 'content-type': 'application/xml' });
          res.end(xmlError('InternalError', String(error)));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    log,
    loseResponse: (method, key, times = 1, how = 'reset') => void lost.push({ method, key, times, how }),
    failDeletes: (key, times = 1, code = 'AccessDenied') => void deleteFaults.push({ key, times, code }),
    refuse: (method, key, times = 1, status = 403, code = 'AccessDenied') => void refusals.push({ method, key, times, status, code }),
    hold: (method, key, gate) => void holds.push({ method, key, gate }),
    clearFaults: () => {
      for (const list of [lost, deleteFaults, refusals, holds]) list.length = 0;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
