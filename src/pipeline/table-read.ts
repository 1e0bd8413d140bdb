import type { PackageTable } from '../package/load-package.js';
import type { ReconcileMode } from '../catalog/reconcile-mode.js';

/** One table's read, decided inside the snapshot: full or incremental, the cursor window, the SELECT. */
export interface TableRead {
  readonly entry: Omit<PackageTable, 'rows' | 'bytes' | 'sourceRowCount'>;
  readonly mode: 'full' | 'incremental';
  readonly select: string;
  readonly where: string | undefined;
  /** Whether key reconciliation follows the read (pipeline/reconcile.ts): only ever 'always' or 'auto' for an incremental read. */
  readonly reconcile: ReconcileMode;
  /** Incremental reads: columns new in the source (destination names) whose values the older rows get (backfill.ts). */
  readonly backfill?: readonly string[];
}
