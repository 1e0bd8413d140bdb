import type { CatalogTable } from '../catalog/catalog.js';
import { DataError } from '../errors.js';
import { schemaFrozenError } from '../schema/schema-contract.js';
import { describeChange, diffColumns, type ColumnChange } from '../schema/schema-evolution.js';
import type { SourceTable } from '../source/postgres/postgres-introspector.js';
import { destinationNames, mapColumn, type ColumnMapping } from '../normalize/column-mapping.js';
import type { EventListener } from './events.js';

export interface SchemaCheckInput {
  readonly tables: readonly CatalogTable[];
  readonly sources: ReadonlyMap<string, SourceTable>;
  readonly refresh: ReadonlySet<string>;
  readonly naming: { readonly caseSensitive: boolean; readonly lowerCase: boolean };
  /** The destination table's columns now (empty map: the table does not exist). */
  describe(table: string): Promise<Map<string, string>>;
  /** Filled with the columns each existing table lacks (destination names), for the backfill of merge tables. */
  readonly addedColumns?: Map<string, string[]>;
  /**
   * Tables this run reads as changes (change data capture from the stored position): merged into the destination
   * whatever their write_disposition, so held to a merge table's rules (regression: an incompatible type change of
   * such a table was warned as "rebuilt with the new type" and then merged without any rebuild).
   */
  readonly changesOnly?: ReadonlySet<string>;
  /**
   * The source column each destination column was last loaded from (destination name → source name), from the
   * dataset's schema history; empty for a table never loaded. A merge table whose source columns would now land in
   * other destination columns than before is refused (see movedColumns).
   */
  previousSources?(table: string): Promise<ReadonlyMap<string, string>>;
  /**
   * false when a full table takes the batch's columns (Athena): a column the source dropped is gone after the load,
   * not "kept in the destination" (regression: that warning, while Athena no longer had the column).
   */
  readonly fullTablesKeepDropped?: boolean;
}

/**
 * Maps every table's source columns to destination columns and compares them with the destination, before any row
 * is extracted: changes are reported; a `freeze` table with any change, or a merge table with a type change its
 * stored values cannot follow, stops the run here — nothing has been written anywhere.
 */
export async function checkSchemas(input: SchemaCheckInput, emit: EventListener): Promise<Map<string, ColumnMapping[]>> {
  const result = new Map<string, ColumnMapping[]>();
  const problems: string[] = [];
  for (const t of input.tables) {
    const source = input.sources.get(t.name)!;
    const names = destinationNames(source.columns.map((c) => c.name), input.naming);
    const columns = source.columns.map((c, i) => mapColumn(c, names[i]));
    result.set(t.name, columns);
    for (const c of columns) {
      if (c.name !== c.sourceName) emit({ type: 'warning', table: t.name, message: `column "${c.sourceName}" is loaded as "${c.name}" (names differ only in case)` });
    }
    const existing = await input.describe(t.name);
    if (existing.size === 0) continue;
    const rebuilt = input.refresh.has(t.name);
    const merged = t.writeDisposition === 'merge' || input.changesOnly?.has(t.name) === true;
    const moved = merged && !rebuilt && input.previousSources ? movedColumns(t.name, columns, await input.previousSources(t.name), input.naming) : [];
    if (moved.length > 0) {
      // the columns' diff would only mislead here ("name__2 no longer exists in the source")
      problems.push(...moved);
      continue;
    }
    const changes: ColumnChange[] = diffColumns(existing, columns, input.naming);
    if (changes.length === 0) continue;
    if (t.schemaContract === 'freeze') throw schemaFrozenError(t.name, changes);
    for (const change of changes) {
      if (change.kind === 'incompatible' && merged && !rebuilt) {
        problems.push(`${describeChange(t.name, change)}: run with --full-refresh ${t.name}`);
      } else if (change.kind === 'dropped' && rebuilt) {
        emit({ type: 'warning', table: t.name, message: `column ${change.column} no longer exists in the source; removed by the full refresh` });
      } else if (change.kind === 'dropped' && !merged && input.fullTablesKeepDropped === false) {
        emit({ type: 'warning', table: t.name, message: `column ${change.column} no longer exists in the source; removed by this full load (the table takes the source's columns)` });
      } else {
        emit({
          type: 'warning',
          table: t.name,
          message: change.kind === 'incompatible' ? `${describeChange(t.name, change, false)}; the table is rebuilt with the new type` : describeChange(t.name, change, false),
        });
      }
    }
    const added = changes.filter((c) => c.kind === 'added').map((c) => c.column);
    if (added.length > 0) input.addedColumns?.set(t.name, added);
    const dropped = changes.filter((c) => c.kind === 'dropped').map((c) => c.column);
    if (merged && !rebuilt && added.length > 0 && dropped.length > 0) {
      emit({
        type: 'warning',
        table: t.name,
        message:
          `${dropped.join(', ')} dropped and ${added.join(', ')} added in the same change: if a column was renamed, the old name keeps its values in the ` +
          `older rows (NULL in new rows) and the new name is backfilled from the source where the destination can (else NULL in older rows) until --full-refresh ${t.name}`,
      });
    }
  }
  if (problems.length > 0) throw new DataError(`Incompatible schema change: ${problems.join('; ')}. Nothing was written.`);
  return result;
}

/**
 * Source columns that would now be loaded into another destination column than before. Names colliding by case get
 * suffixes by position (`Name`, `name` → name, name__2 on Athena): when the source drops `Name`, `name` becomes
 * `name` — the column holding `Name`'s values. Merged into, the older rows would keep the dropped column's values
 * under the other column's name, exit 0 (regression). A column renamed only by case is not moved: its new spelling
 * has no previous destination column.
 */
function movedColumns(
  table: string,
  columns: readonly ColumnMapping[],
  previous: ReadonlyMap<string, string>,
  naming: { readonly caseSensitive: boolean },
): string[] {
  if (previous.size === 0) return [];
  const key = (n: string) => (naming.caseSensitive ? n : n.toLowerCase());
  const before = new Map<string, string>();
  for (const [destination, source] of previous) before.set(source, destination);
  const heldBy = new Map([...previous].map(([destination, source]) => [key(destination), source]));
  const moved: string[] = [];
  for (const c of columns) {
    const was = before.get(c.sourceName);
    if (was === undefined || key(was) === key(c.name)) continue;
    const holder = heldBy.get(key(c.name));
    moved.push(
      `${table}: source column "${c.sourceName}" was loaded as ${was} and would now be loaded as ${c.name}` +
        `${holder !== undefined && holder !== c.sourceName ? `, which holds the values of source column "${holder}"` : ''}` +
        ` (a column whose name differs only in case was dropped or added): run with --full-refresh ${table}`,
    );
  }
  return moved;
}
