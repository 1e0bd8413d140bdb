import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { S3Call } from './policy-check.js';

/** A pass-through proxy in front of a loopback S3 that records every request (method, URL, body) it forwards. */
export interface S3Recorder {
  readonly url: string;
  readonly calls: S3Call[];
  stop(): Promise<void>;
}

export async function startS3Recorder(target: string): Promise<S3Recorder> {
  const calls: S3Call[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const method = req.method ?? 'GET';
      const url = req.url ?? '/';
      calls.push({ method, url, body: method === 'POST' && url.includes('delete') ? body.toString('utf8') : '' });
      const forward = request(`${target}${url}`, { method, headers: req.headers }, (upstream) => {
        res.writeHead(upstream.statusCode ?? 500, upstream.headers);
        upstream.pipe(res);
      });
      forward.on('error', (e) => res.destroy(e));
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, calls, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
