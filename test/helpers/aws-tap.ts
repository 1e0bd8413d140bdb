import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a tap rule answers instead of the stand-in: an AWS JSON 1.1 reply (status 200) or error (status 400). */
export type TapReply = { readonly ok: Record<string, unknown> } | { readonly error: string; readonly message: string };

/**
 * A loopback proxy in front of the Glue/Athena stand-in (AWS JSON 1.1 over HTTP): every request goes through `rule`
 * first (operation name, parsed body), which may answer it itself (a fault, a failed query) or let it through, after
 * doing something of its own (another run taking the lock over). Works in front of any stand-in that speaks the
 * protocol, so the tests that use it do not depend on its internals.
 */
export interface AwsTap {
  readonly url: string;
  rule: (op: string, input: Record<string, any>) => Promise<TapReply | undefined> | TapReply | undefined;
  stop(): Promise<void>;
}

export async function startAwsTap(target: string): Promise<AwsTap> {
  const tap: AwsTap = { url: '', rule: () => undefined, stop: async () => undefined };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const op = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      void (async () => {
        const reply = await tap.rule(op, body.length > 0 ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {});
        if (reply && 'ok' in reply) {
          res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(JSON.stringify(reply.ok));
          return;
        }
        if (reply) {
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': reply.error });
          res.end(JSON.stringify({ __type: reply.error, message: reply.message }));
          return;
        }
        const forward = request(`${target}${req.url ?? '/'}`, { method: req.method, headers: req.headers }, (upstream) => {
          res.writeHead(upstream.statusCode ?? 500, upstream.headers);
          upstream.pipe(res);
        });
        forward.on('error', (e) => res.destroy(e));
        forward.end(body);
      })().catch((e: unknown) => res.destroy(e as Error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(tap, {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}

/** Athena's answer to a statement it refuses: the query starts, then ends FAILED with `reason` (see failedQueries). */
export function failedQueries() {
  const failed = new Map<string, string>();
  let n = 0;
  return {
    /** Registers a refused statement; the reply to StartQueryExecution. */
    refuse(reason: string): TapReply {
      n += 1;
      const id = `refused-${n}`;
      failed.set(id, reason);
      return { ok: { QueryExecutionId: id } };
    },
    /** The reply to GetQueryExecution for a refused statement, else undefined. */
    status(input: Record<string, any>): TapReply | undefined {
      const reason = failed.get(String(input.QueryExecutionId));
      if (reason === undefined) return undefined;
      return {
        ok: {
          QueryExecution: {
            QueryExecutionId: input.QueryExecutionId,
            Status: { State: 'FAILED', StateChangeReason: reason, AthenaError: { ErrorCategory: 2, ErrorType: 1006, Retryable: false, ErrorMessage: reason } },
          },
        },
      };
    },
  };
}
