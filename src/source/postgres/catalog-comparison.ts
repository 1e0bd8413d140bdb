import type { Catalog, CatalogTable } from '../../catalog/catalog.js';
import type { SourceTable } from './source-table.js';

/** What the comparison reports (the pipeline's event listener takes these). */
export type ComparisonListener = (event: { type: 'warning'; message: string } | { type: 'note'; message: string }) => void;

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Keys and foreign keys declared in the source vs the catalog: disagreements are warnings, not fatal. A source foreign
 * key the catalog does not declare is no disagreement (the quality gate checks it too): one note lists them, shown
 * with --verbose and in JSON (regression: 18–22 warnings on every DataVision run, even with -q).
 */
export function reportSourceComparison(emit: ComparisonListener, catalog: Catalog, tables: readonly CatalogTable[], sources: ReadonlyMap<string, SourceTable>): void {
  const { warnings, undeclared } = compareWithSource(catalog, tables, sources);
  for (const message of warnings) emit({ type: 'warning', message });
  if (undeclared.length > 0) {
    emit({ type: 'note', message: `the quality gate also checks ${undeclared.length} foreign key${undeclared.length === 1 ? '' : 's'} declared in the source but not in the catalog: ${undeclared.join('; ')}` });
  }
}

/** See reportSourceComparison: warnings, and the source's foreign keys that the catalog does not declare. */
export function compareWithSource(catalog: Catalog, tables: readonly CatalogTable[], sources: ReadonlyMap<string, SourceTable>): { warnings: string[]; undeclared: string[] } {
  const warnings: string[] = [];
  const undeclared: string[] = [];
  const selected = new Set(tables.map((t) => t.name));
  for (const t of tables) {
    const s = sources.get(t.name)!;
    // a table whose key is not declared takes the source's (or has none): nothing to compare
    if (t.primaryKey.length > 0 && s.primaryKey.length === 0) {
      warnings.push(`Table ${t.name}: the source declares no primary key; the catalog says (${t.primaryKey.join(', ')}).`);
    } else if (t.primaryKey.length > 0 && !same(s.primaryKey, t.primaryKey)) {
      warnings.push(`Table ${t.name}: the source primary key is (${s.primaryKey.join(', ')}) but the catalog says (${t.primaryKey.join(', ')}).`);
    }
    const declared = catalog.relationships.filter((r) => r.table === t.name && selected.has(r.references));
    for (const r of declared) {
      const match = s.foreignKeys.some((fk) => fk.referencedTable === r.references && same(fk.columns, r.columns) && same(fk.referencedColumns, r.referencedColumns));
      if (!match) warnings.push(`Table ${t.name}: the catalog relationship (${r.columns.join(', ')}) → ${r.references} is not a foreign key in the source.`);
    }
    for (const fk of s.foreignKeys) {
      if (!selected.has(fk.referencedTable)) continue;
      const match = declared.some((r) => r.references === fk.referencedTable && same(fk.columns, r.columns));
      if (!match) undeclared.push(`${t.name} (${fk.columns.join(', ')}) → ${fk.referencedTable}`);
    }
  }
  return { warnings, undeclared };
}
