import { stat } from 'node:fs/promises';
import path from 'node:path';
import { DataError } from '../../errors.js';
import type { ColumnMapping } from '../../normalize/column-mapping.js';
import { lineLimitFor, readCsvSql } from '../../normalize/csv-read.js';
import type { NormalizeSession } from '../../normalize/normalize-session.js';
import type { PackageTable } from '../../package/load-package.js';
import type { TypedParquet } from '../../normalize/typed-parquet.js';
import { quoteIdent, quoteLiteral } from '../../sql/quote.js';
import { stagedFromAthena, type StagedColumn } from './athena-staging.js';
import { athenaColumnType } from './athena-type-map.js';
import { CHANGE_META_COLUMNS as META } from '../../package/change-file.js';

/**
 * Change data capture in dev/prod. Athena has no multi-statement transaction, so a run's changes (the change file of
 * pipeline/cdc-changes.ts) are first reduced here, in normalize's DuckDB session, to one row per key — what the key
 * is after the run: deleted (`_ingesta_op` D) or its last version (U) — and then applied by ONE MERGE with deletes
 * (athena-load-table.ts), after a `DELETE FROM` when the run holds a TRUNCATE. Replaying the same changes from the
 * stored position (a crash before state.json was written) gives the same table: the MERGE sets each key to its final
 * version, whatever the table held before.
 *
 * A column an update did not send (an unchanged TOASTed value) takes the key's earlier change in the run, else the
 * Iceberg table's value: of the same key, or, for an update that changed the key, of the old key (`_ingesta_from_*`),
 * read inside the MERGE's own source query (cdcSourceSql).
 */

/** The change meta columns the reduced file carries after the table's columns. */
export const CDC_OP = '_ingesta_op';
export const CDC_UNSENT = '_ingesta_unsent';
export const cdcFromColumn = (key: string) => `_ingesta_from_${key}`;


/** What the reduction made of a change file. */
export interface ReducedChanges {
  /** The package table over the reduced file: its columns, then CDC_OP, CDC_UNSENT and one from-key per key column. */
  readonly table: PackageTable;
  /** Whether the run held a TRUNCATE: the Iceberg table is emptied before the MERGE. */
  readonly truncated: boolean;
  /** Indexes (in the table's columns) of the columns some row still lacks: their values come from the Iceberg table. */
  readonly unresolved: readonly number[];
}

/** A text column of the reduced file (its value travels as-is). */
function textColumn(name: string): ColumnMapping {
  return { name, sourceName: name, sourceType: 'text', destinationType: 'VARCHAR', selectSql: quoteIdent(name), csvType: 'VARCHAR', castSql: quoteIdent(name), guard: undefined };
}

/** The key column `key` renamed as its from-key column: the same type and cast. */
function fromColumn(table: PackageTable, key: string): ColumnMapping {
  const c = table.columns.find((x) => x.name === key)!;
  const name = cdcFromColumn(key);
  return { ...c, name, sourceName: name, castSql: c.castSql.split(quoteIdent(key)).join(quoteIdent(name)) };
}

/**
 * Reduces a CDC package table's change file to the rows one MERGE applies (see the module comment), as a CSV in the
 * package's form (PostgreSQL's text, so normalize types it as any batch). Needs a key: keyless tables are refused
 * before the run reads anything (capability keylessChangeDataCapture).
 */
export async function reduceChanges(session: NormalizeSession, table: PackageTable, packageDir: string): Promise<ReducedChanges> {
  const pk = table.primaryKey;
  if (pk.length === 0) throw new DataError(`Table ${table.name}: change data capture in dev/prod needs a primary key (a bug: keyless tables are refused before the run)`);
  const file = path.join(packageDir, table.file);
  const reducedFile = `${table.file}.reduced.csv`;
  const meta = [textColumn(CDC_OP), textColumn(CDC_UNSENT), ...pk.map((k) => fromColumn(table, k))];
  const reducedTable: PackageTable = { ...table, file: reducedFile, rows: 0, bytes: 0, columns: [...table.columns, ...meta] };
  const asText = [...META, ...table.columns.map((c) => ({ name: c.name, csvType: 'VARCHAR' }))];
  const stage = '"_ingesta_cdc_stage"';
  await stageChanges(session, table, file, asText, stage);
  const [read] = await session.query(`SELECT max(CASE WHEN "_op" = 'T' THEN "_seq" END)::BIGINT AS t FROM ${stage}`);
  const truncatedAt = read?.t === null || read?.t === undefined ? undefined : Number(read.t);
  // the changes before the last TRUNCATE no longer matter: the table is emptied first
  if (truncatedAt !== undefined) await session.run(`DELETE FROM ${stage} WHERE "_seq" <= ${truncatedAt}`);

  const notSent = (alias: string, i: number) => `(${alias}."_unchanged" IS NOT NULL AND contains(${alias}."_unchanged", '|${i}|'))`;
  const key = (a: string, b: string) => pk.map((k) => `${a}.${quoteIdent(k)} IS NOT DISTINCT FROM ${b}.${quoteIdent(k)}`).join(' AND ');
  // the value of column i at the change `before` of key `k`: the key's latest earlier insert or update that sent it
  const earlier = (q: string, i: number, k: string, before: string) =>
    `(SELECT struct_pack(v := s.${q}) FROM ${stage} s WHERE ${key('s', k)} AND s."_seq" < ${before}."_seq" AND s."_op" IN ('I', 'U') AND NOT ${notSent('s', i)} ORDER BY s."_seq" DESC LIMIT 1)`;
  // only the columns some change did not send need resolving (as in duckdb-cdc-apply.ts)
  const unsent = new Set((await session.query(`SELECT DISTINCT unnest(string_split(trim("_unchanged", '|'), '|')) AS i FROM ${stage} WHERE "_unchanged" IS NOT NULL`)).map((r) => Number(r.i)));
  const resolved = table.columns.flatMap((c, i) => {
    if (!unsent.has(i)) return [];
    // an update that changed the key: the old key's earlier change (f._moved is the delete of the old key)
    const found = `CASE WHEN f."_moved" IS NOT NULL THEN (SELECT ${earlier(quoteIdent(c.name), i, 'm', 'm')} FROM ${stage} m WHERE m."_seq" = f."_moved") ELSE ${earlier(quoteIdent(c.name), i, 'f', 'f')} END`;
    return [{ i, found }];
  });
  const value = (c: ColumnMapping, i: number) => {
    const r = resolved.find((x) => x.i === i);
    const q = quoteIdent(c.name);
    return r ? `CASE WHEN f."_op" = 'D' OR NOT ${notSent('f', i)} THEN f.${q} ELSE (${r.found}).v END AS ${q}` : `f.${q}`;
  };
  const select = [
    ...table.columns.map(value),
    `CASE WHEN f."_op" = 'D' THEN 'D' ELSE 'U' END AS ${quoteIdent(CDC_OP)}`,
    // the columns still without a value, |i|j|: the MERGE takes them from the Iceberg table
    resolved.length === 0
      ? `CAST(NULL AS VARCHAR) AS ${quoteIdent(CDC_UNSENT)}`
      : `nullif(concat(${resolved.map(({ i, found }) => `CASE WHEN f."_op" <> 'D' AND ${notSent('f', i)} AND (${found}) IS NULL THEN '|${i}|' ELSE '' END`).join(', ')}), '') AS ${quoteIdent(CDC_UNSENT)}`,
    ...pk.map((k) => `CASE WHEN f."_moved" IS NOT NULL THEN (SELECT m.${quoteIdent(k)} FROM ${stage} m WHERE m."_seq" = f."_moved") ELSE f.${quoteIdent(k)} END AS ${quoteIdent(cdcFromColumn(k))}`),
  ];
  const last = `(SELECT * FROM ${stage} WHERE "_op" IN ('I', 'U', 'D') QUALIFY row_number() OVER (PARTITION BY ${pk.map(quoteIdent).join(', ')} ORDER BY "_seq" DESC) = 1)`;
  const reduced = '"_ingesta_cdc_reduced"';
  await session.run(`CREATE OR REPLACE TEMP TABLE ${reduced} AS SELECT ${select.join(', ')}, f."_seq" FROM ${last} f`);
  const [counts] = await session.query(`SELECT count(*)::BIGINT AS n FROM ${reduced}`);
  const unresolved = (await session.query(`SELECT DISTINCT unnest(string_split(trim(${quoteIdent(CDC_UNSENT)}, '|'), '|')) AS i FROM ${reduced} WHERE ${quoteIdent(CDC_UNSENT)} IS NOT NULL`))
    .map((r) => Number(r.i))
    .sort((a, b) => a - b);
  const out = path.join(packageDir, reducedFile);
  // the package's CSV form: every value quoted, NULL an unquoted empty field (csv-read.ts)
  const names = [...table.columns, ...meta].map((c) => quoteIdent(c.name)).join(', ');
  await session.run(`COPY (SELECT ${names} FROM ${reduced} ORDER BY "_seq") TO ${quoteLiteral(out)} (FORMAT csv, HEADER false, FORCE_QUOTE *, NULLSTR '')`);
  await session.run(`DROP TABLE ${stage}`);
  await session.run(`DROP TABLE ${reduced}`);
  const rows = Number(counts?.n ?? 0);
  const { size } = await stat(out);
  return { table: { ...reducedTable, rows, bytes: size }, truncated: truncatedAt !== undefined, unresolved };
}

/** A CDC table's reduced changes (athena-cdc.ts), as the batch file holds them. */
export interface CdcBatch {
  /** Rows of the reduced file (one per key changed). */
  readonly rows: number;
  /** The run held a TRUNCATE: the table is emptied before the MERGE. */
  readonly truncated: boolean;
  /** The staging table's CDC columns (after the table's own). */
  readonly meta: readonly StagedColumn[];
  /** Columns some row did not send (name → index in the table's columns): taken from the Iceberg table. */
  readonly unresolved: ReadonlyMap<string, number>;
}

/**
 * The change file as text into a temporary table, every change read (a value over DuckDB's default CSV line size,
 * a large TOASTed text, fails the read or drops the record: then it is read again with a line limit sized to the
 * file, as the DuckDB load does).
 */
async function stageChanges(session: NormalizeSession, table: PackageTable, file: string, columns: readonly { name: string; csvType: string }[], stage: string): Promise<void> {
  if (table.rows === 0) {
    await session.run(`CREATE OR REPLACE TEMP TABLE ${stage} AS SELECT ${columns.map((c) => `CAST(NULL AS ${c.csvType}) AS ${quoteIdent(c.name)}`).join(', ')} LIMIT 0`);
    return;
  }
  for (const limit of [undefined, lineLimitFor(table.bytes)]) {
    if (limit) await session.raiseMemoryLimit(4 * (limit + 2 ** 20));
    try {
      await session.run(`CREATE OR REPLACE TEMP TABLE ${stage} AS SELECT * FROM ${readCsvSql(file, columns, { lineLimit: limit, bufferBytes: session.csvBufferBytes })}`);
      const [read] = await session.query(`SELECT count(*)::BIGINT AS n FROM ${stage}`);
      if (Number(read?.n ?? 0) === table.rows) return;
      if (limit) throw new DataError(`Table ${table.name}: DuckDB read ${String(read?.n)} of the ${table.rows} changes read from the source`);
    } catch (error) {
      if (limit || error instanceof DataError) throw error;
    } finally {
      if (limit) await session.restoreMemoryLimit();
    }
  }
}

const tableRef = (database: string, name: string) => `${quoteIdent(database)}.${quoteIdent(name)}`;

/**
 * The MERGE's source: the staged reduced rows (`staged`: the staging relation, athena-staging.ts), where a column in
 * `unresolved` (name → its index in the package table's columns) that a row did not send takes the Iceberg table's value — of the old key (`_ingesta_from_*`), else of
 * the key itself (a replay after the old key was already deleted). Without unresolved columns: the staged rows as they are.
 */
export function cdcSourceSql(database: string, target: string, staged: string, columns: readonly string[], unresolved: ReadonlyMap<string, number>, primaryKey: readonly string[]): string {
  if (unresolved.size === 0) return staged;
  const t = tableRef(database, target);
  const on = (alias: string, from: (k: string) => string) => primaryKey.map((k) => `${alias}.${quoteIdent(k)} = s.${quoteIdent(from(k))}`).join(' AND ');
  const select = columns.map((c) => {
    const q = quoteIdent(c);
    const index = unresolved.get(c);
    if (index === undefined) return `s.${q}`;
    const stored = `CASE WHEN o.${quoteIdent(primaryKey[0]!)} IS NOT NULL THEN o.${q} ELSE n.${q} END`;
    return `CASE WHEN strpos(s.${quoteIdent(CDC_UNSENT)}, ${quoteLiteral(`|${index}|`)}) > 0 THEN ${stored} ELSE s.${q} END AS ${q}`;
  });
  return (
    `(SELECT ${select.join(', ')}, s.${quoteIdent(CDC_OP)} FROM ${staged} AS s ` +
    `LEFT JOIN ${t} AS o ON (${on('o', cdcFromColumn)}) LEFT JOIN ${t} AS n ON (${on('n', (k) => k)}))`
  );
}

/**
 * Applies the reduced changes (`source`, see cdcSourceSql) to the Iceberg table in one statement (Athena's MERGE INTO
 * grammar: WHEN MATCHED [AND c] THEN DELETE | UPDATE, WHEN NOT MATCHED [AND c] THEN INSERT): a deleted key's row is
 * removed, any other key's row is replaced or inserted. A key deleted that the table does not hold is left alone.
 */
export function icebergChangesSql(database: string, target: string, source: string, columns: readonly string[], primaryKey: readonly string[]): string {
  const keys = new Set(primaryKey);
  const on = primaryKey.map((k) => `t.${quoteIdent(k)} = s.${quoteIdent(k)}`).join(' AND ');
  const updates = columns.filter((c) => !keys.has(c)).map((c) => `${quoteIdent(c)} = s.${quoteIdent(c)}`);
  const op = `s.${quoteIdent(CDC_OP)}`;
  return (
    `MERGE INTO ${tableRef(database, target)} AS t USING ${source} AS s ON (${on}) ` +
    `WHEN MATCHED AND ${op} = 'D' THEN DELETE ` +
    (updates.length > 0 ? `WHEN MATCHED THEN UPDATE SET ${updates.join(', ')} ` : '') +
    `WHEN NOT MATCHED AND ${op} <> 'D' THEN INSERT (${columns.map(quoteIdent).join(', ')}) VALUES (${columns.map((c) => `s.${quoteIdent(c)}`).join(', ')})`
  );
}

/**
 * The typed reduced file split in two: the table's own columns (what the Iceberg column plan sees) and the CDC
 * columns the staging table adds (CDC_OP, CDC_UNSENT, the from-key columns, staged as the batch typed them).
 */
export function splitCdcBatch(typed: TypedParquet, table: PackageTable, reduced: ReducedChanges): { typed: TypedParquet; batch: CdcBatch } {
  const own = new Set(table.columns.map((c) => c.name));
  const meta = typed.columns.filter(([name]) => !own.has(name)).map(([name, type]) => stagedFromAthena({ name, type: athenaColumnType(name, type, 'iceberg').athenaType }));
  const unresolved = new Map(reduced.unresolved.map((i) => [table.columns[i]!.name, i]));
  return { typed: { ...typed, columns: typed.columns.filter(([name]) => own.has(name)) }, batch: { rows: reduced.table.rows, truncated: reduced.truncated, meta, unresolved } };
}
