import { DataError, messageOf } from '../../errors.js';
import type { PackageTable } from '../../package/load-package.js';
import type { DuckDBFile } from './duckdb-connection.js';
import { describeDuckdbFailure } from '../../normalize/duckdb-errors.js';
import { recordSchema } from './duckdb-evolution.js';
import { childTableName, keyJoin, unnestSelect } from './duckdb-sql.js';

/**
 * Keeps `<table>__<column>` in step with its parent: rebuilt from the whole parent after a full load; after a merge,
 * the merged keys' elements are replaced (from the batch, still in the temporary "_ingesta_merge").
 */
export async function loadChildTable(db: DuckDBFile, runId: string, table: PackageTable, column: string): Promise<void> {
  const parent = await db.describeTable(table.name);
  const type = parent.get(column);
  if (type === undefined || !(type === 'JSON' || type.endsWith('[]'))) {
    throw new DataError(`Table ${table.name}: unnest names column ${column}, which is ${type === undefined ? 'missing' : `of type ${type}, not JSON or a list`}. Fix the catalog.`);
  }
  if (table.primaryKey.length === 0) throw new DataError(`Table ${table.name}: unnesting ${column} needs a primary key to link the elements to their row.`);
  const name = childTableName(table.name, column);
  const child = db.ref.table(name);
  const isJson = type === 'JSON';
  try {
    if (table.replaceAll || (await db.describeTable(name)).size === 0) {
      await db.run(`CREATE OR REPLACE TABLE ${child} AS ${unnestSelect(db.ref.table(table.name), table.primaryKey, column, isJson)}`);
    } else {
      const merged = '"_ingesta_merge"';
      if ((await db.query(`SELECT 1 FROM duckdb_tables() WHERE temporary AND table_name = '_ingesta_merge'`)).length === 0) return;
      await db.run(`DELETE FROM ${child} USING ${merged} WHERE ${keyJoin(child, merged, table.primaryKey)}`);
      await db.run(`INSERT INTO ${child} ${unnestSelect(merged, table.primaryKey, column, isJson)}`);
    }
  } catch (cause) {
    throw new DataError(`Unnesting ${table.name}.${column} into ${name} failed: ${describeDuckdbFailure(messageOf(cause))}`, { cause });
  }
  const keyColumns = table.columns.filter((c) => table.primaryKey.includes(c.name));
  await recordSchema(db, runId, { ...table, writeDisposition: table.writeDisposition }, name, keyColumns, { table: table.name, column });
}
