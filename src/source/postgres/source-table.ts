import type { SourceColumn } from './source-column.js';

/** A foreign key as the source declares it. */
export interface SourceForeignKey {
  readonly name: string;
  readonly columns: readonly string[];
  readonly referencedSchema: string;
  readonly referencedTable: string;
  readonly referencedColumns: readonly string[];
}

/** What pg_catalog says about one table, read inside the run's snapshot. */
export interface SourceTable {
  readonly schema: string;
  readonly name: string;
  /** r table, p partitioned table, v view, m materialized view, f foreign table. */
  readonly kind: string;
  readonly columns: readonly SourceColumn[];
  /** Empty when the source declares no primary key. */
  readonly primaryKey: readonly string[];
  readonly foreignKeys: readonly SourceForeignKey[];
}
