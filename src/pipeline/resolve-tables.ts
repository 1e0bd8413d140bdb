import pgTypes from 'pg';
import { sourceOnlyTable, unknownTableMessage, type Catalog, type CatalogTable, type TableRequest } from '../catalog/catalog.js';
import { parseTableRef } from '../catalog/table-ref.js';
import type { FullRefresh } from '../config/config.js';
import { ConfigError } from '../errors.js';
import { findTable, introspectTable } from '../source/postgres/postgres-introspector.js';

/**
 * Turns the run's table requests into catalog tables, before any snapshot or destination is touched: names not in
 * the catalog are found in the source (and get its primary key), catalog entries without a declared key take the
 * source's. Unknown names, merges without a key and two tables landing on one destination name are ConfigErrors.
 */
export async function resolveTables(client: pgTypes.Client, catalog: Catalog, requests: readonly TableRequest[]): Promise<CatalogTable[]> {
  const resolved: CatalogTable[] = [];
  const unknown: string[] = [];
  for (const request of requests) {
    if (request.kind === 'catalog') {
      const t = request.table;
      if (t.primaryKey.length > 0) {
        resolved.push(t);
        continue;
      }
      const source = await introspectTable(client, t.schema, t.name);
      resolved.push(source ? { ...t, primaryKey: source.primaryKey } : t);
      continue;
    }
    const found = await findTable(client, request.ref);
    if (!found) {
      unknown.push(request.ref.text);
      continue;
    }
    const source = await introspectTable(client, found.schema, found.name);
    resolved.push(sourceOnlyTable(catalog, found.schema, found.name, source?.primaryKey ?? []));
  }
  if (unknown.length > 0) throw new ConfigError(unknownTableMessage(catalog, unknown));

  const unique: CatalogTable[] = [];
  const byDestination = new Map<string, CatalogTable>();
  for (const t of resolved) {
    const key = t.name.toLowerCase(); // DuckDB (and Athena) compare table names without case
    const other = byDestination.get(key);
    if (other) {
      if (other.schema === t.schema && other.name === t.name) continue; // asked twice
      throw new ConfigError(
        `Tables ${other.schema}.${other.name} and ${t.schema}.${t.name} would both load into destination table "${t.name}". ` +
          'Load them into different datasets (--dataset) in separate runs.',
      );
    }
    if (t.writeDisposition === 'merge' && t.primaryKey.length === 0) {
      throw new ConfigError(`Table ${t.schema}.${t.name} is declared merge but has no primary key (none in the catalog, none in the source). Declare primary_key in the catalog or load it with write_disposition replace.`);
    }
    byDestination.set(key, t);
    unique.push(t);
  }
  return unique;
}

/** The resolved tables a --full-refresh names (or all of them). */
export function refreshedTables(fullRefresh: FullRefresh, tables: readonly CatalogTable[]): Set<string> {
  if (fullRefresh.kind === 'none') return new Set();
  if (fullRefresh.kind === 'all') return new Set(tables.map((t) => t.name));
  const refs = fullRefresh.tables.map(parseTableRef);
  const matches = (part: string, quoted: boolean, actual: string) => part === actual || (!quoted && part.toLowerCase() === actual);
  return new Set(
    tables
      .filter((t) => refs.some((r) => matches(r.name, r.nameQuoted, t.name) && (r.schema === undefined || matches(r.schema, r.schemaQuoted, t.schema))))
      .map((t) => t.name),
  );
}
