import type { DataError } from '../errors.js';

/**
 * How one column of a package table is read other than its mapping declares:
 * - `text`: as PostgreSQL's exact text (VARCHAR), because DuckDB refused a value of its type in a failed attempt
 *   (`refused`: a BC date, a timestamp past DuckDB's range, NaN in numeric(p,s)), because a merge table's stored
 *   column is text already (`stored`), or because no DECIMAL holds every measured value of an unconstrained numeric
 *   (`measured`: NaN, ±Infinity, more than 38 digits);
 * - `decimal`: an unconstrained numeric measured on the package file, DECIMAL(38, scale) (`intDigits`: the largest
 *   integer part seen, which decides how the CSV reader parses it); or, `checked`, not measured but assumed to fit
 *   DECIMAL(38, scale) and checked value by value as the file is read once (a value that does not fit stops the read,
 *   and the table is measured: the `measure` load adjustment).
 */
export type ColumnAdjustment =
  | { readonly kind: 'text'; readonly why: 'refused' | 'stored' | 'measured' }
  | { readonly kind: 'decimal'; readonly scale: number; readonly intDigits: number; readonly checked?: boolean };

/** A table's columns' adjustments, by column name (names are any strings: a Map, never a joined key). */
export type ColumnAdjustments = ReadonlyMap<string, ColumnAdjustment>;

/**
 * What a package must be loaded with, found by a failed attempt: a column holding a value DuckDB refused (loaded as
 * exact text, see text-fallback.ts), a table with records over DuckDB's default CSV line limit (read with a limit
 * and a buffer sized to its file), a table whose unconstrained numerics did not fit the scale assumed for them
 * (measured on the file first: numeric-measure.ts), or a table DuckDB ran out of memory on (read again with
 * MEMORY_RETRY_FACTOR times the memory limit).
 */
export type LoadAdjustment =
  | { readonly kind: 'text'; readonly table: string; readonly column: string }
  | { readonly kind: 'line-limit'; readonly table: string }
  | { readonly kind: 'measure'; readonly table: string }
  | { readonly kind: 'memory'; readonly table: string };

/** How many times the configured memory limit a table is read with after DuckDB ran out of memory on it. */
export const MEMORY_RETRY_FACTOR = 4;

/** What failed attempts found about one table. */
interface TableFindings {
  lineLimit: boolean;
  measure: boolean;
  memory: boolean;
  /** Columns DuckDB refused a value of: read as exact text. */
  readonly refused: Set<string>;
}

/**
 * The adjustments of one package's load: each found once; a second failure for the same one is the real error.
 * Kept by table, then by column (Maps and Sets of the names themselves).
 */
export class LoadAdjustments {
  private readonly tables = new Map<string, TableFindings>();

  has(adjustment: LoadAdjustment): boolean {
    const found = this.tables.get(adjustment.table);
    if (!found) return false;
    if (adjustment.kind === 'line-limit') return found.lineLimit;
    if (adjustment.kind === 'memory') return found.memory;
    return adjustment.kind === 'measure' ? found.measure : found.refused.has(adjustment.column);
  }

  add(adjustment: LoadAdjustment): void {
    let found = this.tables.get(adjustment.table);
    if (!found) this.tables.set(adjustment.table, (found = { lineLimit: false, measure: false, memory: false, refused: new Set() }));
    if (adjustment.kind === 'line-limit') found.lineLimit = true;
    else if (adjustment.kind === 'memory') found.memory = true;
    else if (adjustment.kind === 'measure') found.measure = true;
    else found.refused.add(adjustment.column);
  }
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
