import { createWriteStream } from 'node:fs';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

export interface CopyResult {
  readonly rows: number;
  readonly bytes: number;
}

/**
 * Streams `COPY (select) TO STDOUT (FORMAT csv)` into a file, byte for byte: PostgreSQL's own text for each value,
 * NULL as an unquoted empty field and '' as "" (so DuckDB can tell them apart).
 * `onBytes` is called per network chunk (with the chunk) for progress; it must be cheap. `append` adds the rows to the end of the file.
 */
export async function copyToFile(client: pg.Client, select: string, file: string, onBytes?: (bytes: number, chunk: Buffer) => void, append = false): Promise<CopyResult> {
  return copyToStream(client, select, createWriteStream(file, { highWaterMark: 1 << 20, flags: append ? 'a' : 'w' }), onBytes);
}

/**
 * The COPY of `copyToFile` into any writable stream.
 *
 * On any failure (a full disk, an unwritable file, the source's own error) the client is closed before this rejects:
 * a COPY stopped halfway leaves the connection paused in the middle of the server's output, so any later query on it
 * (the caller's ROLLBACK) would wait forever, and with nothing else pending Node would exit with status 0 and no
 * message. A closed client fails every later query at once instead.
 */
export async function copyToStream(client: pg.Client, select: string, sink: Writable, onBytes?: (bytes: number, chunk: Buffer) => void): Promise<CopyResult> {
  const query = copyTo(`COPY (${select}) TO STDOUT (FORMAT csv)`);
  const completed = commandCompleted(query);
  const source = client.query(query);
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      onBytes?.(bytes, chunk);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(source, counter, sink);
    completed.streamEnded();
    // the data ends at CopyDone; the row count comes in CommandComplete, which can arrive in a later network chunk
    await completed.done;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return { rows: query.rowCount, bytes };
}

/** The hooks node-postgres calls on the active query (pg-copy-streams implements them; its types do not say so). */
interface QueryHooks {
  handleError(error: Error, connection?: unknown): void;
  handleReadyForQuery(connection?: unknown): void;
}

/**
 * Resolves once node-postgres has handled the COPY's CommandComplete and ReadyForQuery (so `rowCount` is the
 * server's count), rejects if the query fails or the connection ends before that. pg-copy-streams ends its stream at
 * CopyDone; until then `rowCount` is 0, so reading it when the stream ends loses the count whenever CommandComplete
 * arrives in a later network chunk (seen through a proxy under load: a full refresh wrote an empty table).
 */
function commandCompleted(query: object): { done: Promise<void>; streamEnded: () => void } {
  const hooks = query as QueryHooks;
  const onError = hooks.handleError.bind(query);
  const onReady = hooks.handleReadyForQuery.bind(query);
  let ended = false;
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  done.catch(() => undefined); // awaited only after the data; a failure before that rejects the pipeline too
  hooks.handleError = (error, connection) => {
    reject(error);
    // after the stream ended nobody listens to its 'error' event: emitting it would crash the process
    if (!ended) onError(error, connection);
  };
  hooks.handleReadyForQuery = (connection) => {
    onReady(connection);
    resolve();
  };
  return { done, streamEnded: () => (ended = true) };
}
