import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

// a listener that accepts connections and never answers: a firewall that drops, a hung server, a wrong port
let server: Server;
let port: number;
let dir: string;
const sockets = new Set<Socket>();

beforeAll(async () => {
  server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-timeout-'));
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('connect_timeout bounds the whole connection attempt (regression: ignored; 15 s per TLS attempt, twice)', () => {
  for (const [how, url, env] of [
    ['?connect_timeout=2 in the URL', `postgres://u@127.0.0.1:PORT/db?connect_timeout=2`, {}],
    ['PGCONNECT_TIMEOUT=2', `postgres://u@127.0.0.1:PORT/db`, { PGCONNECT_TIMEOUT: '2' }],
  ] as const) {
    it(`${how}: sslmode=prefer's TLS attempt and its plain fallback share the 2 s; exit 3 with one line`, async () => {
      const started = Date.now();
      const r = await runCli(['--env', 'local', '--duckdb-path', path.join(dir, 'x.duckdb')], { DATABASE_URL: url.replace('PORT', String(port)), ...env });
      const seconds = (Date.now() - started) / 1000;
      expect(r.code).toBe(3);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/no answer within connect_timeout \(2 s\); is the server running and reachable/);
      // 2 s plus the process's own start-up (slow on a loaded machine), far below the old 30 s
      expect(seconds).toBeLessThan(12);
    });
  }
});
