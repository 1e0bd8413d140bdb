import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { SchemaContract, WriteDisposition } from '../catalog/catalog.js';
import type { ColumnMapping } from '../normalize/column-mapping.js';
import { DestinationError } from '../errors.js';
import type { PackageOwner } from './package-owner.js';

/**
 * A load package is the hand-over between extraction and loading: one folder per run id (under its destination's
 * folder, see package-root.ts) holding one CSV file per table and a manifest. It survives a crash. `extracting` =
 * files may be incomplete (discard it); `extracted` = every file is complete (it can still be loaded). Once loaded,
 * the folder is removed.
 */
export type PackageState = 'extracting' | 'extracted';

export interface PackageTable {
  /** Destination table name. */
  readonly name: string;
  readonly sourceSchema: string;
  readonly sourceName: string;
  /** Columns unnested into child tables `<name>__<column>` (destination column names). */
  readonly unnest: readonly string[];
  readonly writeDisposition: WriteDisposition;
  /** true: the table is rebuilt from these rows (full load); false: rows are merged by primary key. */
  readonly replaceAll: boolean;
  /** Full refresh: columns the source no longer has are removed too (otherwise they are kept, NULL). */
  readonly dropRemovedColumns: boolean;
  /** freeze: any schema change fails the load before anything is written. */
  readonly schemaContract: SchemaContract;
  /** File name inside the package folder. */
  readonly file: string;
  readonly columns: readonly ColumnMapping[];
  /** Primary key, as destination column names. */
  readonly primaryKey: readonly string[];
  /** Rows and bytes extracted. */
  rows: number;
  bytes: number;
  /**
   * Rows the source table held at the snapshot (for the quality gate's row count): the rows read for a full load; for
   * an incremental read, counted when the gate runs after the load or the automatic reconciliation needs it (or the
   * key scan of a reconciliation), else null.
   */
  sourceRowCount: number | null;
  /**
   * Key reconciliation of this read (--reconcile): rows refetched (counted in `rows`) and keys deleted; the deleted
   * keys are in `deletesFile` (inside the package folder) when there are any.
   */
  readonly reconcile?: { readonly deletesFile: string | undefined; readonly deleted: number; readonly refetched: number };
  /**
   * Columns new in the source on an incremental read (destination names): their values in every source row that has
   * one, with the key, in `file` (inside the package folder), merged into the destination's older rows.
   */
  readonly backfill?: { readonly file: string; readonly columns: readonly string[]; readonly rows: number };
  /**
   * Change data capture (pipeline/cdc-stage.ts): `file` holds the run's changes (pipeline/cdc-changes.ts),
   * applied in place of a merge batch; the cursor is the slot's position (column `cdc:<slot>`, type pg_lsn).
   */
  readonly cdc?: { readonly transactions: number; readonly truncated: boolean };
  /** Incremental state: cursor read from (inclusive, lag applied) and the new cursor (max at the snapshot). */
  readonly cursor:
    | { readonly column: string; readonly columnType: string; readonly previous: string | null; readonly lowerBound: string | null; next: string | null }
    | undefined;
}

export interface Manifest {
  readonly version: 1;
  readonly runId: string;
  readonly createdAt: string;
  readonly env: string;
  readonly dataset: string;
  /** The destination the package is for (see package-root.ts); recovery touches only its own destination's packages. */
  readonly destination?: string;
  /** The process that writes it: recovery leaves the package alone while it runs. */
  readonly owner?: PackageOwner;
  state: PackageState;
  /** now() of the source snapshot (PostgreSQL text, UTC). */
  snapshotAt: string | undefined;
  readonly tables: PackageTable[];
}

const MANIFEST = 'manifest.json';

/** Sortable, unique run id: 20261127T210501123Z-a1b2c3. */
export function newRunId(now: Date = new Date()): string {
  return `${now.toISOString().replace(/[-:.]/g, '')}-${randomBytes(3).toString('hex')}`;
}

export function packagePath(root: string, runId: string): string {
  return path.join(root, runId);
}

export async function createPackageFolder(root: string, runId: string): Promise<string> {
  const dir = packagePath(root, runId);
  await mkdir(dir, { recursive: true }).catch(async (cause: unknown) => {
    const real = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? await realMkdirError(dir) : cause;
    throw packageIoError(real, root, 'Creating the load package folder') ?? real;
  });
  return dir;
}

/**
 * Node's recursive mkdir reports ENOENT when a folder cannot be created on a read-only file system: creating the first
 * missing level on its own gives the real cause (EROFS, EACCES…).
 */
async function realMkdirError(dir: string): Promise<unknown> {
  let missing = dir;
  while (path.dirname(missing) !== missing && !(await stat(path.dirname(missing)).then(() => true, () => false))) missing = path.dirname(missing);
  return mkdir(missing).then(
    () => Object.assign(new Error(`ENOENT: cannot create ${dir}`), { code: 'ENOENT' }),
    (error: unknown) => error,
  );
}

/** What each I/O error code means, and what to do about it (regression: a permission error suggested freeing space). */
const IO_CODES: Readonly<Record<string, { readonly what: string; readonly fix: string }>> = {
  ENOSPC: { what: 'the disk is full', fix: 'Free space there or point --package-dir (INGESTA_PACKAGE_DIR) at a larger disk.' },
  EDQUOT: { what: 'the disk quota is exhausted', fix: 'Free space there or point --package-dir (INGESTA_PACKAGE_DIR) at a larger disk.' },
  EROFS: { what: 'the file system is read-only', fix: 'Point --package-dir (INGESTA_PACKAGE_DIR) at a writable folder.' },
  EACCES: { what: 'permission denied', fix: 'Give the user running ingesta write access there, or point --package-dir (INGESTA_PACKAGE_DIR) at a folder it can write.' },
  EPERM: { what: 'permission denied', fix: 'Give the user running ingesta write access there, or point --package-dir (INGESTA_PACKAGE_DIR) at a folder it can write.' },
  EIO: { what: 'an I/O error', fix: 'Check the disk, or point --package-dir (INGESTA_PACKAGE_DIR) at another one.' },
};

/**
 * A failed write in the load package folder (full disk, quota, read-only, permissions) as a DestinationError (exit 5)
 * naming the folder and --package-dir; undefined for any other error.
 */
export function packageIoError(cause: unknown, dir: string, what: string): DestinationError | undefined {
  const code = (cause as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || !(code in IO_CODES)) return undefined;
  const io = IO_CODES[code]!;
  return new DestinationError(`${what} failed: ${io.what} (${code}) in the load package folder ${dir}. ${io.fix} Nothing was loaded; the destination is unchanged.`, { cause });
}

/** Writes the manifest atomically (temp file, fsync, rename): a crash leaves the old or the new one, never half. */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  try {
    await writeManifestFile(dir, manifest);
  } catch (cause) {
    throw packageIoError(cause, dir, 'Writing the load package manifest') ?? cause;
  }
}

async function writeManifestFile(dir: string, manifest: Manifest): Promise<void> {
  const tmp = path.join(dir, `${MANIFEST}.tmp`);
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(JSON.stringify(manifest, null, 2));
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path.join(dir, MANIFEST));
}

export async function readManifest(dir: string): Promise<Manifest | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, MANIFEST), 'utf8')) as Manifest;
    return parsed.version === 1 ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Package folders under root, oldest first (run ids sort by time). */
export async function listPackages(root: string): Promise<string[]> {
  try {
    const entries = await readdir(root, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export async function removePackage(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** fsyncs a finished data file so an `extracted` manifest never points at bytes still in the page cache only. */
export async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
