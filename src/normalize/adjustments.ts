import type { DataError } from '../errors.js';

/**
 * What a package must be loaded with, found by a failed attempt: a column holding a value DuckDB refused (a BC date,
 * NaN in numeric(p,s): loaded as exact text, see text-fallback.ts), or a table with records over DuckDB's default
 * CSV line limit (read with a limit and a buffer sized to its file).
 */
export type LoadAdjustment =
  | { readonly kind: 'text'; readonly table: string; readonly column: string }
  | { readonly kind: 'line-limit'; readonly table: string };

/** The adjustments of one package's load: each found once; a second failure for the same one is the real error. */
export class LoadAdjustments {
  private readonly keys = new Set<string>();

  has(adjustment: LoadAdjustment): boolean {
    return this.keys.has(keyOf(adjustment));
  }

  add(adjustment: LoadAdjustment): void {
    this.keys.add(keyOf(adjustment));
  }
}

/** Names are any strings (NUL included): the key is their JSON, never a concatenation. */
function keyOf(adjustment: LoadAdjustment): string {
  return JSON.stringify(adjustment.kind === 'text' ? [adjustment.kind, adjustment.table, adjustment.column] : [adjustment.kind, adjustment.table]);
}

/**
 * Thrown inside a load when the package must be loaded again with an adjustment; the whole transaction starts over
 * with it. `cause` is the error to report if the adjustment does not help.
 */
export class AdjustmentNeeded extends Error {
  constructor(
    readonly adjustment: LoadAdjustment,
    override readonly cause: DataError,
  ) {
    super(cause.message);
  }
}
