import type pg from 'pg';
import type { CatalogTable } from '../../catalog/catalog.js';
import { ConfigError, SourceError } from '../../errors.js';
import { sourceQueryError } from './postgres-connection.js';
import { introspectTable } from './postgres-introspector.js';
import type { SourceTable } from './source-table.js';
import { listSourceTables } from './source-tables.js';

/** Reads every table's definition inside the snapshot; a missing table or column is an error before any COPY. */
export async function introspectAll(client: pg.Client, tables: readonly CatalogTable[]): Promise<Map<string, SourceTable>> {
  const found = new Map<string, SourceTable>();
  for (const t of tables) {
    const source = await introspectTable(client, t.schema, t.name).catch((cause: unknown) => {
      throw sourceQueryError(`Reading the definition of table ${t.schema}.${t.name}`, cause);
    });
    if (!source) {
      // name where it was looked for: without DATABASE_URL, libpq's defaults pick the OS user and a database of its name
      const where = await listSourceTables(client).then(
        (l) => `database ${l.database} as user ${l.user}${l.tables.length === 0 ? ', which sees no table at all there' : ''}`,
        () => 'database',
      );
      throw new SourceError(
        `Table ${t.schema}.${t.name} does not exist in the source ${where} (or this user cannot see it): it was dropped or renamed, the connection points at another database, or the catalog or --tables names it wrongly. ` +
          'Nothing was loaded; the destination is unchanged (its last load of the table is kept). Recreate the table, or leave it out with --tables.',
      );
    }
    const names = new Set(source.columns.map((c) => c.name));
    const required = [...t.primaryKey, ...(t.incremental ? [t.incremental.cursorColumn] : []), ...t.unnest];
    const missing = required.filter((c) => !names.has(c));
    if (missing.length > 0) {
      // a column renamed in the source only by case: say how the source spells it now (the catalog must follow it)
      const spelled = missing.map((m) => source.columns.filter((c) => c.name.toLowerCase() === m.toLowerCase()).map((c) => c.name));
      const hint = spelled.every((s) => s.length === 1) ? ` (spelled ${spelled.map((s) => s[0]).join(', ')} there now: update the catalog)` : '';
      throw new ConfigError(`Table ${t.name}: column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} named in the catalog (primary key / cursor / unnest) do not exist in the source${hint}.`);
    }
    found.set(t.name, source);
  }
  return found;
}
