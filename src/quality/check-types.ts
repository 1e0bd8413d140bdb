import type { ColumnCheck, Severity } from '../catalog/catalog.js';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** One check's outcome, as reported, stored and turned into an exit code. */
export interface CheckResult {
  /** row_count | duplicates | referential_integrity | freshness | not_null | unique | accepted_values | min | max */
  readonly check: string;
  readonly table: string;
  readonly status: CheckStatus;
  readonly observed: number | string | null;
  readonly expected: number | string | null;
  readonly message: string;
  /** Extra facts: examples of offending keys, the freshest value, the relationship checked. */
  readonly details?: Readonly<Record<string, unknown>>;
  /** The SQL the check ran on the destination, in order (none when it was skipped before any query). */
  readonly sql?: string;
}

/** A check to run: one definition, rendered to SQL by a destination dialect. */
export type CheckSpec =
  | { readonly kind: 'row_count'; readonly table: string; readonly severity: Severity }
  | { readonly kind: 'duplicates'; readonly table: string; readonly key: readonly string[]; readonly severity: Severity }
  | {
      readonly kind: 'referential_integrity';
      readonly table: string;
      readonly columns: readonly string[];
      readonly references: string;
      readonly referencedColumns: readonly string[];
      /** The child table's primary key: an orphan's example names its row by it (empty: the table has none). */
      readonly childKey: readonly string[];
      /** Where the relationship was declared. */
      readonly origin: 'catalog' | 'source' | 'catalog+source';
      readonly severity: Severity;
    }
  | {
      readonly kind: 'freshness';
      readonly table: string;
      /** undefined: the table has no freshness column, the check is skipped. */
      readonly column: string | undefined;
      readonly thresholdHours: number;
      /** Zone a naive timestamp / date was written in. */
      readonly timezone: string;
      readonly severity: Severity;
    }
  | ({ readonly table: string } & ColumnCheck);

/** Source-side facts for the row_count check. */
export interface SourceCount {
  /** Rows in the source table (inside the extraction snapshot after a load; now, in validate-only). */
  readonly rows: number;
  /**
   * Rows changed since the last load (cursor or freshness column newer than what was loaded): a difference up to
   * this many rows is explained by activity since, and reported as warn. undefined after a load (same snapshot).
   */
  readonly changedSinceLoad?: number;
}

/** The summary an orchestrator needs: did anything fail? */
export function gateFailed(results: readonly CheckResult[]): boolean {
  return results.some((r) => r.status === 'fail');
}

/**
 * The quality gate's report: the shape of --report-json (plus a count per status). Like everything the library and
 * its files expose, camelCase, `details` included; only ingesta's own SQL tables and S3 records are snake_case.
 */
export interface QualityReport {
  readonly runId: string;
  readonly env: string;
  readonly dataset: string;
  readonly mode: 'after-load' | 'only';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly checks: readonly CheckResult[];
}
