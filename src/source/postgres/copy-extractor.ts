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
  const source = client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT csv)`));
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
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return { rows: source.rowCount ?? 0, bytes };
}
