import type { ColumnMapping } from '../normalize/column-mapping.js';

/** What a destination is asked to compare for key reconciliation (see pipeline/reconcile.ts). */
export interface KeyDiffRequest {
  readonly table: string;
  /** The primary key's columns and the cursor column, as mapped (destination names, CSV types). */
  readonly keyColumns: readonly ColumnMapping[];
  readonly cursorColumn: ColumnMapping;
  /** CSV of every source key with its cursor value (the key columns, then the cursor unless it is a key column). */
  readonly keysFile: string;
  readonly keyRows: number;
  /** The incremental read's lower bound (PostgreSQL text of the cursor's type); null when it read from the start. */
  readonly lowerBound: string | null;
  /** Where to write the keys the destination holds but the source no longer has (CSV, destination types). */
  readonly deletesFile: string;
}

export interface KeyDiff {
  /** Source keys (PostgreSQL text, in key column order) the destination lacks or holds with another cursor value. */
  readonly refetch: readonly (readonly string[])[];
  /** Keys written to the deletes file. */
  readonly deleted: number;
}

/** What the destination is asked to predict for the automatic reconciliation (see pipeline/reconcile.ts). */
export interface MergeCountRequest {
  readonly table: string;
  readonly keyColumns: readonly ColumnMapping[];
  /** Every column of the batch file, in order. */
  readonly columns: readonly ColumnMapping[];
  readonly batchFile: string;
  readonly batchRows: number;
}

/**
 * Optional key reconciliation: compares the source's keys with the destination's committed rows. A destination has
 * one exactly when its capabilities say `keyReconciliation` (Destination.reconciler; see keyReconcilerOf).
 */
export interface KeyReconciler {
  diffKeys(request: KeyDiffRequest): Promise<KeyDiff>;
  /** Rows the table would hold after merging the batch (its rows + the batch's keys it lacks); undefined if unknown. */
  countAfterMerge(request: MergeCountRequest): Promise<number | undefined>;
}
