/**
 * Key reconciliation of an incremental table (pipeline/reconcile.ts), one representation from the catalog and the
 * flags to each planned read: 'always' compares every key with the destination on every run (--reconcile,
 * `incremental.reconcile: true`); 'auto' only when the source's row count disagrees with what the destination would
 * hold after the batch (the default); 'never' not at all (--no-reconcile, `incremental.reconcile: false`, and every
 * full read, which already equals the source).
 */
export type ReconcileMode = 'always' | 'auto' | 'never';

/** The catalog file's `reconcile: true / false` as the run's mode; absent: the run decides. */
export function reconcileOf(value: boolean | undefined): ReconcileMode | undefined {
  return value === undefined ? undefined : value ? 'always' : 'never';
}
