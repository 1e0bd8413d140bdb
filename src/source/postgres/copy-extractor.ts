import { createWriteStream } from 'node:fs';
import { Transform } from 'node:stream';
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
 * `onBytes` is called per network chunk for progress; it must be cheap. `append` adds the rows to the end of the file.
 */
export async function copyToFile(client: pg.Client, select: string, file: string, onBytes?: (bytes: number) => void, append = false): Promise<CopyResult> {
  const source = client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT csv)`));
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      onBytes?.(bytes);
      callback(null, chunk);
    },
  });
  await pipeline(source, counter, createWriteStream(file, { highWaterMark: 1 << 20, flags: append ? 'a' : 'w' }));
  return { rows: source.rowCount ?? 0, bytes };
}
