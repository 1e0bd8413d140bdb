import path from 'node:path';
import type pg from 'pg';
import type { KeyReconciler } from '../destination/destination.js';
import { IngestError } from '../errors.js';
import { packageIoError, syncFile, type PackageTable } from '../package/load-package.js';
import { copyToFile } from '../source/postgres/copy-extractor.js';
import { sourceQueryError } from '../source/postgres/postgres-connection.js';
import { countRows } from '../source/postgres/source-profile.js';
import type { EventListener } from './events.js';
import type { TableRead } from './table-read.js';
import { crashPoint } from '../faults/crash-points.js';
import { needsReconciliation, reconcileRead } from './reconcile.js';
import { backfillRead } from './backfill.js';
import { estimateRead, extractProgress } from './progress.js';
import { DEFAULT_PROGRESS_INTERVAL_MS, type Pulse } from './phase-progress.js';

/** What the COPY loop needs besides the connection and the reads. */
export interface ExtractOptions {
  /** The load package's folder: each read's file is written there. */
  readonly packageDir: string;
  readonly emit: EventListener;
  /** The heartbeat of the table phases after the read (key scan, backfill); default: emit, every 10 s. */
  readonly pulse?: Pulse;
  /** Called as each table's file is complete and synced (a transactional destination starts loading it). */
  readonly onExtracted?: (table: PackageTable) => void;
  /** Count the source rows of incremental reads too (the quality gate compares them); full reads count their COPY. */
  readonly countIncremental?: boolean;
  /** The destination's key comparison, when it can reconcile (reads planned with reconcile 'always' or 'auto'). */
  readonly reconciler?: KeyReconciler;
}

/**
 * Extracts every planned read into the package folder with COPY, inside the caller's snapshot transaction, and
 * returns the package's table entries (rows, bytes, source row counts at the snapshot).
 */
export async function extractTables(client: pg.Client, reads: readonly TableRead[], options: ExtractOptions): Promise<PackageTable[]> {
  const { packageDir, emit, onExtracted, countIncremental = false, reconciler } = options;
  const pulse = options.pulse ?? { emit, intervalMs: DEFAULT_PROGRESS_INTERVAL_MS };
  const result: PackageTable[] = [];
  for (const read of reads) {
    const t = read.entry;
    try {
      const estimatedRows = await estimateRead(client, read);
      emit({ type: 'extract_started', table: t.name, mode: read.mode, filter: read.where, estimatedRows });
      const started = performance.now();
      const file = path.join(packageDir, t.file);
      const copied = await copyToFile(client, read.select, file, extractProgress(emit, t.name, estimatedRows));
      await syncFile(file);
      // an incremental read is counted for the gate or the automatic reconciliation (a reconciliation's key scan counts)
      const counted = read.mode === 'full' || read.reconcile === 'always' || (!countIncremental && read.reconcile !== 'auto') ? null : await countRows(client, t.sourceSchema, t.sourceName);
      const sourceRowCount = read.mode === 'full' ? copied.rows : counted;
      emit({ type: 'extract_finished', table: t.name, rows: copied.rows, bytes: copied.bytes, ms: performance.now() - started });
      crashPoint('during-extract');
      let table: PackageTable = { ...t, rows: copied.rows, bytes: copied.bytes, sourceRowCount };
      if (reconciler && (await needsReconciliation(read, table, counted, file, reconciler, emit))) {
        table = await reconcileRead(client, read, table, packageDir, reconciler, pulse);
      }
      if (read.backfill && read.backfill.length > 0) table = await backfillRead(client, table, read.backfill, packageDir, emit, pulse.intervalMs);
      result.push(table);
      onExtracted?.(table);
    } catch (cause) {
      if (cause instanceof IngestError) throw cause;
      const io = packageIoError(cause, packageDir, `Writing table ${t.sourceSchema}.${t.sourceName} into the load package`);
      if (io) throw io;
      throw sourceQueryError(`Extracting table ${t.sourceSchema}.${t.sourceName}`, cause);
    }
  }
  return result;
}
