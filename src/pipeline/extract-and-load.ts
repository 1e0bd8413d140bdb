import type pg from 'pg';
import { beginLoadOf, keyReconcilerOf, type Destination, type TableLoadResult } from '../destination/destination.js';
import { writeManifest, type Manifest, type PackageTable } from '../package/load-package.js';
import { crashPoint } from '../faults/crash-points.js';
import type { EventListener } from './events.js';
import { extractTables } from './extract.js';
import { extractInParallel } from './parallel-extract.js';
import { commitTimed, loadTimed } from './progress.js';
import { DEFAULT_PROGRESS_INTERVAL_MS } from './phase-progress.js';
import type { TableRead } from './table-read.js';

/** What the extract-and-load step of a run works with: the package already started (manifest state `extracting`). */
export interface ExtractAndLoadInput {
  readonly destination: Destination;
  readonly manifest: Manifest;
  readonly packageDir: string;
  /** The snapshot's reader connections (the first is the one that took the snapshot). */
  readonly readers: readonly pg.Client[];
  readonly reads: readonly TableRead[];
  /** Count the source rows of incremental reads too (the quality gate runs after the load). */
  readonly countIncremental: boolean;
  /** Releases the snapshot (every reader connection), once every table is extracted and before the commit. */
  readonly releaseSnapshot: () => Promise<void>;
  /** Change data capture: the change files of the CDC tables, read after the snapshot's tables (cdc-stage.ts). */
  readonly extractChanges?: (onExtracted: (table: PackageTable) => void) => Promise<PackageTable[]>;
  readonly emit: EventListener;
  /** How often a long load or commit emits its heartbeat (RunConfig.progressIntervalMs). */
  readonly progressIntervalMs?: number;
}

/**
 * Extracts every read into the package, marks it `extracted`, releases the snapshot, and loads it: a transactional
 * destination loads each table as soon as its file is complete, while the next one is extracted, and commits once
 * (nothing is visible before); any other loads the whole package after the extract. Resolves once committed.
 */
export async function extractAndLoad(input: ExtractAndLoadInput): Promise<{ extracted: PackageTable[]; loaded: TableLoadResult[] }> {
  const { destination, manifest, packageDir, emit } = input;
  const pulse = { emit, intervalMs: input.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS };
  // DuckDB tells how far its current statement is (a percentage, no row count)
  const rowsDone = destination.statementProgress ? () => {
    const p = destination.statementProgress!();
    return p ? { rows: null, percent: p.percent } : null;
  } : undefined;
  const session = await beginLoadOf(destination, manifest, packageDir);
  let loading: Promise<void> = Promise.resolve();
  if (session) emit({ type: 'load_started', tables: input.reads.length });
  const onExtracted = (table: PackageTable) => {
    if (session) loading = loading.then(() => loadTimed(session, table, pulse, rowsDone)).catch(() => undefined);
  };
  const onTable = (r: TableLoadResult) => {
    for (const message of r.notes) emit({ type: 'warning', table: r.table, message });
    emit({ type: 'table_loaded', table: r.table, mode: r.mode, rowsLoaded: r.rowsLoaded, rowsInDestination: r.rowsInDestination });
  };
  const options = { packageDir, emit, pulse, onExtracted, countIncremental: input.countIncremental, reconciler: keyReconcilerOf(destination) };
  let extracted: PackageTable[];
  try {
    extracted = await extractInParallel(input.readers, input.reads, (client, chunk) => extractTables(client, chunk, options));
    if (input.extractChanges) extracted.push(...(await input.extractChanges(onExtracted)));
    manifest.tables.push(...extracted);
    manifest.state = 'extracted';
    await writeManifest(packageDir, manifest);
    crashPoint('after-extract');
    // the snapshot is released before committing: the source holds nothing of ours while the destination finishes
    await input.releaseSnapshot();
    if (session) {
      await loading;
      return { extracted, loaded: await commitTimed(extracted.length, false, pulse, rowsDone, () => session.commit(manifest, onTable)) };
    }
  } catch (error) {
    // whatever failed (a reader, the manifest on a full disk, the commit): the loads in flight finish, then the load
    // transaction is rolled back before anything else uses the destination (the failure record among others)
    await loading;
    await session?.abort();
    throw error;
  }
  emit({ type: 'load_started', tables: extracted.length });
  return { extracted, loaded: await commitTimed(extracted.length, true, pulse, rowsDone, () => destination.loadPackage(manifest, packageDir, onTable)) };
}
