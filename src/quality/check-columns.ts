import type { CheckSpec } from './check-types.js';

/** A column of a table, as the catalog and the source name it → as the destination does. */
export type DestinationColumnName = (table: string, column: string) => string;

/**
 * The gate's checks name columns as the catalog and the source do; the destination may have renamed them: Athena
 * lower-cases every name (`OrderDate` → `orderdate`), DuckDB suffixes a column that collides by case (`Id`, `id` →
 * `Id`, `id__2`). Every column a check names — key, foreign key on both sides, freshness column, checked column — is
 * turned into the destination's name before the SQL is written (regression: on Athena a mixed-case freshness or
 * checked column was "missing in the destination"; in DuckDB the key check read the colliding column).
 */
export function withDestinationColumns(specs: readonly CheckSpec[], nameOf: DestinationColumnName): CheckSpec[] {
  return specs.map((spec): CheckSpec => {
    const of = (column: string) => nameOf(spec.table, column);
    switch (spec.kind) {
      case 'row_count':
        return spec;
      case 'duplicates':
        return { ...spec, key: spec.key.map(of) };
      case 'referential_integrity':
        return { ...spec, columns: spec.columns.map(of), childKey: spec.childKey.map(of), referencedColumns: spec.referencedColumns.map((c) => nameOf(spec.references, c)) };
      case 'freshness':
        return { ...spec, column: spec.column === undefined ? undefined : of(spec.column) };
      default:
        return { ...spec, column: of(spec.column) };
    }
  });
}
