import path from 'node:path';
import { DataError } from '../../errors.js';
import { applyBackfill } from './duckdb-backfill.js';
import type { PackageTable } from '../../package/load-package.js';
import type { ColumnMapping } from '../../normalize/column-mapping.js';
import { castList, readCsvSql } from '../../normalize/csv-read.js';
import { measureNumerics, type NumericStats } from '../../normalize/numeric-measure.js';
import { quoteIdent } from '../../sql/quote.js';
import type { DuckDBFile } from './duckdb-connection.js';
import { checkFrozen, evolveColumns, type PackageFile } from './duckdb-evolution.js';
import { childTableName, columnList, createTableSql, keyJoin } from './duckdb-sql.js';
import { CHANGE_META_COLUMNS as META } from '../../package/change-file.js';

const STAGE = '"_ingesta_cdc"';
const MERGED = '"_ingesta_merge"';

/**
 * Applies a CDC change file (pipeline/cdc-changes.ts) to a merge table inside the load transaction, with
 * the same type and evolution rules as a merge batch (numerics measured, freeze checked, columns added or widened):
 * the last TRUNCATE empties the table (and the changes before it are dropped); then, per key, the last change wins —
 * a delete removes the row, an insert or update replaces it; a column an update did not send (an unchanged TOASTed
 * value) keeps the value of the key's previous change in the run, else the destination's. Without a key (REPLICA
 * IDENTITY FULL) the changes apply one by one in commit order, each delete to one row equal to the old values.
 * The final rows stay in "_ingesta_merge" for the child tables of `unnest:`.
 */
export async function applyChanges(db: DuckDBFile, table: PackageTable, existing: ReadonlyMap<string, string>, file: string, notes: string[], lineLimit: number | undefined): Promise<void> {
  const target = db.ref.table(table.name);
  const from: PackageFile = { file, lineLimit };
  const csv = (columns: readonly Pick<ColumnMapping, 'name' | 'csvType'>[]) => readCsvSql(file, [...META, ...columns], { lineLimit, bufferBytes: db.csvBufferBytes });
  let stats = new Map<string, NumericStats>();
  let measured = [...table.columns];
  if (table.rows > 0) {
    const text = `(SELECT ${columnList(table.columns)} FROM ${csv(table.columns.map((c) => ({ name: c.name, csvType: c.csvType })))})`;
    ({ columns: measured, stats } = await measureNumerics((sql) => db.query(sql), table, text));
  }
  if (existing.size > 0 && table.schemaContract === 'freeze') await checkFrozen(db, table, existing, measured, from);
  const columns = existing.size === 0 ? measured : await evolveColumns(db, table, existing, measured, from, stats, notes);
  if (existing.size === 0) await db.run(createTableSql(db.ref, table.name, columns, false));
  if (table.rows > 0) await applyFile(db, target, table, columns, csv);
  // a column added with a DEFAULT (no row change in the WAL): its values from the run's snapshot (pipeline/backfill.ts)
  if (table.backfill) await applyBackfill(db.conn, db.ref, table, columns, path.join(path.dirname(file), table.backfill.file));
}

async function applyFile(db: DuckDBFile, target: string, table: PackageTable, columns: readonly ColumnMapping[], csv: (columns: readonly Pick<ColumnMapping, 'name' | 'csvType'>[]) => string): Promise<void> {
  await db.run(`CREATE OR REPLACE TEMP TABLE ${STAGE} AS SELECT "_seq", "_op", "_unchanged", "_moved", ${castList(columns)} FROM ${csv(columns)}`);
  const [read] = await db.query(`SELECT count(*)::BIGINT AS n FROM ${STAGE}`);
  if (Number(read?.n ?? 0) !== table.rows) throw new DataError(`Table ${table.name}: DuckDB read ${String(read?.n)} of the ${table.rows} changes read from the source`);

  const [truncate] = await db.query(`SELECT max("_seq")::BIGINT AS s FROM ${STAGE} WHERE "_op" = 'T'`);
  if (truncate?.s !== null && truncate?.s !== undefined) {
    await db.run(`DELETE FROM ${target}`);
    for (const c of table.unnest) if ((await db.describeTable(childTableName(table.name, c))).size > 0) await db.run(`DELETE FROM ${db.ref.table(childTableName(table.name, c))}`);
    await db.run(`DELETE FROM ${STAGE} WHERE "_seq" <= ${Number(truncate.s)}`);
  }
  if (table.primaryKey.length === 0) await applyInOrder(db, target, columns);
  else await applyByKey(db, target, table, columns);
}

/** Whether stage row `alias` did not send column `i`. */
const notSent = (alias: string, i: number) => `(${alias}."_unchanged" IS NOT NULL AND contains(${alias}."_unchanged", '|${i}|'))`;

/** The last change of each key; unsent columns from the key's previous change in the run, else from the destination. */
async function applyByKey(db: DuckDBFile, target: string, table: PackageTable, columns: readonly ColumnMapping[]): Promise<void> {
  const unsent = (await db.query(`SELECT DISTINCT unnest(string_split(trim("_unchanged", '|'), '|')) AS i FROM ${STAGE} WHERE "_unchanged" IS NOT NULL`)).map((r) => Number(r.i));
  const key = (a: string, b: string) => table.primaryKey.map((k) => `${a}.${quoteIdent(k)} = ${b}.${quoteIdent(k)}`).join(' AND ');
  const select = columns.map((c, i) => {
    const q = quoteIdent(c.name);
    if (!unsent.includes(i)) return `f.${q}`;
    // the row's previous version: the key's earlier change in the run, else the destination's row; for an update that
    // changed the key (f._moved = the delete of its old key, m) the old key's
    const earlier = (k: string, before: string) =>
      `(SELECT struct_pack(v := s.${q}) FROM ${STAGE} s WHERE ${key('s', k)} AND s."_seq" < ${before}."_seq" AND s."_op" IN ('I', 'U') AND NOT ${notSent('s', i)} ORDER BY s."_seq" DESC LIMIT 1)`;
    const stored = (k: string) => `(SELECT struct_pack(v := t.${q}) FROM ${target} t WHERE ${key('t', k)} LIMIT 1)`;
    const moved = `(SELECT coalesce(${earlier('m', 'm')}, ${stored('m')}) FROM ${STAGE} m WHERE m."_seq" = f."_moved")`;
    return (
      `CASE WHEN NOT ${notSent('f', i)} THEN f.${q} WHEN f."_moved" IS NOT NULL THEN ${moved}.v ` +
      `ELSE coalesce(${earlier('f', 'f')}, ${stored('f')}).v END AS ${q}`
    );
  });
  const pk = table.primaryKey.map(quoteIdent).join(', ');
  await db.run(
    `CREATE OR REPLACE TEMP TABLE ${MERGED} AS SELECT f."_op", ${select.join(', ')} ` +
      `FROM (SELECT * FROM ${STAGE} WHERE "_op" IN ('I', 'U', 'D') QUALIFY row_number() OVER (PARTITION BY ${pk} ORDER BY "_seq" DESC) = 1) f`,
  );
  await db.run(`DELETE FROM ${target} USING ${MERGED} WHERE ${keyJoin(target, MERGED, table.primaryKey)}`);
  await db.run(`INSERT INTO ${target} (${columnList(columns)}) SELECT ${columnList(columns)} FROM ${MERGED} WHERE "_op" <> 'D'`);
}

/** No key: each change in order; a delete removes one row equal (IS NOT DISTINCT FROM) to the old values (of several equal rows, one fewer remains). */
async function applyInOrder(db: DuckDBFile, target: string, columns: readonly ColumnMapping[]): Promise<void> {
  const same = columns.map((c) => `t.${quoteIdent(c.name)} IS NOT DISTINCT FROM s.${quoteIdent(c.name)}`).join(' AND ');
  const changes = await db.query(`SELECT "_seq"::BIGINT AS seq, "_op" AS op FROM ${STAGE} ORDER BY "_seq"`);
  for (const change of changes) {
    const seq = Number(change.seq);
    if (change.op === 'D') {
      // rows equal in every column cannot be told apart: all of them go and all but one come back. (Not by rowid: a
      // source column named rowid hides DuckDB's row id, and the delete then took every row sharing that column's value)
      const [equal] = await db.query(`SELECT count(*)::BIGINT AS n FROM ${target} t, ${STAGE} s WHERE s."_seq" = ${seq} AND ${same}`);
      const n = Number(equal?.n ?? 0);
      if (n === 0) continue;
      await db.run(`DELETE FROM ${target} AS t USING (SELECT * FROM ${STAGE} WHERE "_seq" = ${seq}) AS s WHERE ${same}`);
      if (n > 1) {
        const copies = columns.map((c) => `s.${quoteIdent(c.name)}`).join(', ');
        await db.run(`INSERT INTO ${target} (${columnList(columns)}) SELECT ${copies} FROM ${STAGE} AS s, range(${n - 1}) AS "_copy" WHERE s."_seq" = ${seq}`);
      }
    } else if (change.op === 'I' || change.op === 'U') {
      await db.run(`INSERT INTO ${target} (${columnList(columns)}) SELECT ${columnList(columns)} FROM ${STAGE} WHERE "_seq" = ${seq}`);
    }
  }
  await db.run(`CREATE OR REPLACE TEMP TABLE ${MERGED} AS SELECT * FROM ${STAGE} WHERE false`);
}
