import type pg from 'pg';
import type { Destination, KeyReconciler, TableLoadResult } from '../destination/destination.js';
import { writeManifest, type Manifest, type PackageTable } from '../package/load-package.js';
import { crashPoint } from '../faults/crash-points.js';
import type { EventListener } from './events.js';
import { extractTables } from './extract.js';
import { extractInParallel } from './parallel-extract.js';
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
  readonly emit: EventListener;
}

/**
 * Extracts every read into the package, marks it `extracted`, releases the snapshot, and loads it: a transactional
 * destination loads each table as soon as its file is complete, while the next one is extracted, and commits once
 * (nothing is visible before); any other loads the whole package after the extract. Resolves once committed.
 */
export async function extractAndLoad(input: ExtractAndLoadInput): Promise<{ extracted: PackageTable[]; loaded: TableLoadResult[] }> {
  const { destination, manifest, packageDir, emit } = input;
  const session = destination.beginLoad ? await destination.beginLoad(manifest, packageDir) : undefined;
  let loading: Promise<void> = Promise.resolve();
  if (session) emit({ type: 'load_started', tables: input.reads.length });
  const onExtracted = (table: PackageTable) => {
    if (session) loading = loading.then(() => session.loadTable(table)).catch(() => undefined);
  };
  const onTable = (r: TableLoadResult) => {
    for (const message of r.notes) emit({ type: 'warning', table: r.table, message });
    emit({ type: 'table_loaded', table: r.table, mode: r.mode, rowsLoaded: r.rowsLoaded, rowsInDestination: r.rowsInDestination });
  };
  const options = { packageDir, emit, onExtracted, countIncremental: input.countIncremental, reconciler: reconcilerOf(destination) };
  let extracted: PackageTable[];
  try {
    extracted = await extractInParallel(input.readers, input.reads, (client, chunk) => extractTables(client, chunk, options));
    manifest.tables.push(...extracted);
    manifest.state = 'extracted';
    await writeManifest(packageDir, manifest);
    crashPoint('after-extract');
    // the snapshot is released before committing: the source holds nothing of ours while the destination finishes
    await input.releaseSnapshot();
    if (session) {
      await loading;
      return { extracted, loaded: await session.commit(manifest, onTable) };
    }
  } catch (error) {
    // whatever failed (a reader, the manifest on a full disk, the commit): the loads in flight finish, then the load
    // transaction is rolled back before anything else uses the destination (the failure record among others)
    await loading;
    await session?.abort();
    throw error;
  }
  emit({ type: 'load_started', tables: extracted.length });
  return { extracted, loaded: await destination.loadPackage(manifest, packageDir, onTable) };
}

/** The destination's key comparison, when it has one (see pipeline/reconcile.ts). */
function reconcilerOf(destination: Destination): KeyReconciler | undefined {
  return destination.diffKeys && destination.countAfterMerge
    ? { diffKeys: destination.diffKeys.bind(destination), countAfterMerge: destination.countAfterMerge.bind(destination) }
    : undefined;
}
