import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** An in-process PostgreSQL (PGlite, WASM) served over the wire protocol on a free loopback port. */
export interface EmbeddedPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly url: string;
  /** Runs SQL directly on the embedded database (not through the socket). */
  exec(sql: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(): Promise<EmbeddedPostgres> {
  const db = await PGlite.create();
  const server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1' });
  await server.start();
  // "127.0.0.1:54321": the OS picked the port
  const port = Number(server.getServerConn().split(':').pop());
  if (!Number.isInteger(port) || port <= 0) {
    await server.stop();
    await db.close();
    throw new Error('the embedded PostgreSQL did not report its port');
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    exec: async (sql) => {
      await db.exec(sql);
    },
    stop: async () => {
      await server.stop();
      await db.close();
    },
  };
}
