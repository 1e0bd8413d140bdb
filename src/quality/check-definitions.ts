import type { Catalog, CatalogTable } from '../catalog/catalog.js';
import type { SourceTable } from '../source/postgres/postgres-introspector.js';
import type { CheckSpec } from './check-types.js';

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The checks of a gate over the selected tables: per table row_count, duplicates (primary key, composite included;
 * a table without a key, a view among them, gets an empty key and the gate reports the check as skip),
 * freshness and the catalog's column checks; referential_integrity for every relationship between two selected
 * tables, from the catalog and from the source's foreign keys (declared twice = checked once).
 */
export function defineChecks(catalog: Catalog, tables: readonly CatalogTable[], sources?: ReadonlyMap<string, SourceTable>): CheckSpec[] {
  const selected = new Map(tables.map((t) => [t.name, t]));
  const specs: CheckSpec[] = [];
  for (const t of tables) {
    specs.push({ kind: 'row_count', table: t.name, severity: t.severity.row_count });
    specs.push({ kind: 'duplicates', table: t.name, key: t.primaryKey, severity: t.severity.duplicates });
  }
  const relationships: Extract<CheckSpec, { kind: 'referential_integrity' }>[] = [];
  for (const r of catalog.relationships) {
    if (!selected.has(r.table) || !selected.has(r.references)) continue;
    relationships.push({
      kind: 'referential_integrity', table: r.table, columns: r.columns, references: r.references,
      referencedColumns: r.referencedColumns, childKey: selected.get(r.table)!.primaryKey, origin: 'catalog', severity: selected.get(r.table)!.severity.referential_integrity,
    });
  }
  for (const t of tables) {
    for (const fk of sources?.get(t.name)?.foreignKeys ?? []) {
      const parent = selected.get(fk.referencedTable);
      if (!parent || parent.schema !== fk.referencedSchema) continue;
      const i = relationships.findIndex((r) => r.table === t.name && r.references === fk.referencedTable && same(r.columns, fk.columns));
      if (i >= 0) {
        relationships[i] = { ...relationships[i]!, origin: 'catalog+source' };
        continue;
      }
      relationships.push({
        kind: 'referential_integrity', table: t.name, columns: fk.columns, references: fk.referencedTable,
        referencedColumns: fk.referencedColumns, childKey: t.primaryKey, origin: 'source', severity: t.severity.referential_integrity,
      });
    }
  }
  specs.push(...relationships);
  for (const t of tables) {
    specs.push({
      kind: 'freshness', table: t.name, column: t.freshnessColumn, thresholdHours: t.freshnessHours,
      timezone: t.freshnessTimezone, severity: t.severity.freshness,
    });
    for (const c of t.checks) specs.push({ table: t.name, ...c });
  }
  return specs;
}
