import type pg from 'pg';
import type { PackageTable } from '../package/load-package.js';
import type { TableRead } from './table-read.js';

/**
 * Shares the reads among the connections (each takes the next table in order) and returns the extracted tables in
 * the order of the reads. One connection: plain sequential extraction.
 * On the first failure no further table is started, the other readers' connections are closed (their in-flight COPY
 * ends on the server) and the promise rejects only once every reader has stopped: nothing is extracted, or handed to
 * the caller's onExtracted, after it rejects (the caller aborts its load transaction then).
 */
export async function extractInParallel(
  clients: readonly pg.Client[],
  reads: readonly TableRead[],
  extract: (client: pg.Client, reads: readonly TableRead[]) => Promise<PackageTable[]>,
): Promise<PackageTable[]> {
  if (clients.length <= 1) return extract(clients[0]!, reads);
  const queue = [...reads];
  const done: PackageTable[] = [];
  let failure: { error: unknown } | undefined;
  // every reader stops before this returns (allSettled); a rejection always records itself in `failure` first
  await Promise.allSettled(
    clients.map(async (client) => {
      try {
        for (let next = queue.shift(); next; next = queue.shift()) done.push(...(await extract(client, [next])));
      } catch (error) {
        if (failure) return; // a consequence of the first failure (its connection was closed below)
        failure = { error };
        queue.length = 0;
        for (const other of clients) if (other !== client) other.end().catch(() => undefined);
        throw error;
      }
    }),
  );
  if (failure) throw failure.error;
  const order = new Map(reads.map((r, i) => [r.entry.name, i]));
  return done.sort((a, b) => order.get(a.name)! - order.get(b.name)!);
}
