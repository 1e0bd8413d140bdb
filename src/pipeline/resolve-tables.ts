import pgTypes from 'pg';
import { sourceOnlyTable, unknownTableMessage, type Catalog, type CatalogTable, type TableRequest } from '../catalog/catalog.js';
import { parseTableRef } from '../catalog/table-ref.js';
import type { ReconcileMode } from '../catalog/reconcile-mode.js';
import type { FullRefresh, ReconcileRequest, TableSelection } from '../config/config.js';
import { ConfigError } from '../errors.js';
import { findTable, introspectTable } from '../source/postgres/postgres-introspector.js';
import { sourceQueryError } from '../source/postgres/postgres-connection.js';
import { closestName, listSourceTables } from '../source/postgres/source-tables.js';
import { refuseParentWithPartition } from '../source/postgres/partition-overlap.js';

/**
 * Turns the run's table requests into catalog tables, before any snapshot or destination is touched: names not in
 * the catalog are found in the source (and get its primary key), catalog entries without a declared key take the
 * source's. Unknown names, merges without a key, two tables landing on one destination name and a table named with one
 * of its partitions are ConfigErrors.
 */
export async function resolveTables(client: pgTypes.Client, catalog: Catalog, requests: readonly TableRequest[]): Promise<CatalogTable[]> {
  const resolved: CatalogTable[] = [];
  const unknown: string[] = [];
  // catalog tables the source does not have: introspection reports them (dropped?) instead of a missing key
  const absent = new Set<CatalogTable>();
  const lookUp = <T>(name: string, query: Promise<T>) =>
    query.catch((cause: unknown) => {
      throw sourceQueryError(`Looking up table ${name} in the source`, cause);
    });
  for (const request of requests) {
    if (request.kind === 'catalog') {
      const t = request.table;
      if (t.primaryKey.length > 0) {
        resolved.push(t);
        continue;
      }
      const source = await lookUp(`${t.schema}.${t.name}`, introspectTable(client, t.schema, t.name));
      if (!source) absent.add(t);
      resolved.push(source ? { ...t, primaryKey: source.primaryKey } : t);
      continue;
    }
    const found = await lookUp(request.ref.text, findTable(client, request.ref));
    if (!found) {
      unknown.push(request.ref.text);
      continue;
    }
    const source = await lookUp(`${found.schema}.${found.name}`, introspectTable(client, found.schema, found.name));
    resolved.push(sourceOnlyTable(catalog, found.schema, found.name, source?.primaryKey ?? []));
  }
  if (unknown.length > 0) {
    const listing = await lookUp('the source tables', listSourceTables(client));
    const known = [...listing.tables, ...catalog.tables.map((t) => t.name)];
    throw new ConfigError(unknownTableMessage(catalog, unknown, { ...listing, suggest: (name) => closestName(name, known) }));
  }

  const unique: CatalogTable[] = [];
  const byDestination = new Map<string, CatalogTable>();
  for (const t of resolved) {
    if (isReservedName(t.name)) {
      throw new ConfigError(
        `Table ${t.schema}.${t.name} cannot be loaded under its name: names starting with _ingesta_ or ending in __ingesta_stage are ingesta's own tables in the dataset ` +
          '(run history, cursors, quality results, schema versions, staging), which the load would overwrite. Rename it in the source, or load a view of it under another name. Nothing was changed.',
      );
    }
    const key = t.name.toLowerCase(); // DuckDB (and Athena) compare table names without case
    const other = byDestination.get(key);
    if (other) {
      if (other.schema === t.schema && other.name === t.name) continue; // asked twice
      throw new ConfigError(
        `Tables ${other.schema}.${other.name} and ${t.schema}.${t.name} would both load into destination table "${t.name}". ` +
          'Load them into different datasets (--dataset) in separate runs.',
      );
    }
    if (t.writeDisposition === 'merge' && t.primaryKey.length === 0 && !absent.has(t)) {
      throw new ConfigError(`Table ${t.schema}.${t.name} is declared merge but has no primary key (none in the catalog, none in the source). Declare primary_key in the catalog or load it with write_disposition replace.`);
    }
    byDestination.set(key, t);
    unique.push(t);
  }
  await refuseParentWithPartition(client, unique);
  return unique;
}

/** Destination names ingesta keeps for itself: its metadata and temporary tables, and Athena's staging tables. */
function isReservedName(name: string): boolean {
  return /^_ingesta_/i.test(name) || /__ingesta_stage$/i.test(name);
}

/** The resolved tables a --full-refresh names (or all of them). */
export function refreshedTables(fullRefresh: FullRefresh, tables: readonly CatalogTable[]): Set<string> {
  return selectedTables(fullRefresh, tables);
}

/**
 * How each incremental table with a key is reconciled in this run: 'always' when --reconcile names it (or every table)
 * or its catalog entry says so; else 'auto', unless turned off (--no-reconcile, INGESTA_RECONCILE=off, the catalog's
 * 'never'). A table absent from the map is never reconciled (a full load already equals the source).
 */
export function reconciledTables(request: ReconcileRequest, tables: readonly CatalogTable[]): Map<string, ReconcileMode> {
  const chosen = selectedTables(request.always, tables);
  const modes = new Map<string, ReconcileMode>();
  for (const t of tables) {
    if (!t.incremental || t.primaryKey.length === 0) continue;
    if (chosen.has(t.name) || t.incremental.reconcile === 'always') modes.set(t.name, 'always');
    else if (request.otherwise === 'auto' && t.incremental.reconcile !== 'never') modes.set(t.name, 'auto');
  }
  return modes;
}

/** The resolved tables a table-list flag names (or all of them). */
export function selectedTables(selection: TableSelection, tables: readonly CatalogTable[]): Set<string> {
  if (selection.kind === 'none') return new Set();
  if (selection.kind === 'all') return new Set(tables.map((t) => t.name));
  const refs = selection.tables.map(parseTableRef);
  const matches = (part: string, quoted: boolean, actual: string) => part === actual || (!quoted && part.toLowerCase() === actual);
  return new Set(
    tables
      .filter((t) => refs.some((r) => matches(r.name, r.nameQuoted, t.name) && (r.schema === undefined || matches(r.schema, r.schemaQuoted, t.schema))))
      .map((t) => t.name),
  );
}
