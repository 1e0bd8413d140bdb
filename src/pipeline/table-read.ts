import type { PackageTable } from '../package/load-package.js';
import type { ReconcileMode } from './resolve-tables.js';

/** One table's read, decided inside the snapshot: full or incremental, the cursor window, the SELECT. */
export interface TableRead {
  readonly entry: Omit<PackageTable, 'rows' | 'bytes' | 'sourceRowCount'>;
  readonly mode: 'full' | 'incremental';
  readonly select: string;
  readonly where: string | undefined;
  /** Incremental reads: whether key reconciliation follows (pipeline/reconcile.ts), always or on a count mismatch. */
  readonly reconcile: ReconcileMode | 'never';
  /** Incremental reads: columns new in the source (destination names) whose values the older rows get (backfill.ts). */
  readonly backfill?: readonly string[];
}
