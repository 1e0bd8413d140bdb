import type { DuckDBConnection } from '@duckdb/node-api';
import { DuckDBInstance } from '../../normalize/duckdb-module.js';
import { rmSync, writeFileSync } from 'node:fs';
import { DataError, IngestError, messageOf } from '../../errors.js';
import { quoteIdent, quoteLiteral } from '../../sql/quote.js';
import type { ColumnMapping } from '../../normalize/column-mapping.js';
import type { KeyDiff, KeyDiffRequest, MergeCountRequest } from '../destination.js';
import { readCsvSql } from '../../normalize/csv-read.js';
import { duckTypeOf, glueColumnsOf } from './athena-column-policy.js';
import type { AthenaQueryRunner } from './athena-query-runner.js';
import type { DatasetKeys } from './athena-state.js';
import { glueName, stagingTableName } from './athena-state.js';
import { keyDiffLayout } from '../key-diff-layout.js';
import type { GlueCatalog, GlueColumn } from './glue-catalog.js';
import type { S3Store } from './s3-store.js';

/**
 * Key reconciliation in dev/prod (see pipeline/reconcile.ts; the same semantics as duckdb-reconcile.ts). Athena
 * compares: the source's keys (and cursor values) are checked and normalised locally by DuckDB against the Iceberg
 * table's types, written as Parquet of text columns, and exposed to Athena as a staging table (text, because Athena
 * reads Parquet timestamps at millisecond precision; each value is CAST to the column's type in the query). The
 * deletes are applied after the MERGE by `MERGE … WHEN MATCHED THEN DELETE` from a staging table of the deleted keys.
 * Staging tables end with `__ingesta_stage`, so a crash leaves nothing the next run's clean-up does not remove.
 */
export interface ReconcileContext {
  readonly dataset: string;
  readonly keys: DatasetKeys;
  readonly s3: S3Store;
  readonly glue: GlueCatalog;
  readonly athena: AthenaQueryRunner;
  readonly signal: AbortSignal;
  readonly runId: string;
  readonly fence: (step: string) => Promise<void>;
}

/** The Trino type to CAST text to for a Glue (Hive) column type. */
export function trinoType(glueType: string): string {
  const t = glueType.toLowerCase().replace(/\s+/g, '');
  if (t === 'string') return 'varchar';
  if (t === 'int') return 'integer';
  if (t === 'timestamp') return 'timestamp(6)';
  return t;
}

const table = (ctx: ReconcileContext, name: string) => `${quoteIdent(ctx.dataset)}.${quoteIdent(glueName(name))}`;

/** The Iceberg table's column types (Glue), or a DataError when it is missing. */
async function columnTypes(ctx: ReconcileContext, name: string): Promise<Map<string, string>> {
  const found = await ctx.glue.getTable(ctx.dataset, glueName(name));
  if (!found) throw new DataError(`Table ${name} is missing in ${ctx.dataset}: there is nothing to reconcile. Run with --full-refresh ${name}.`);
  return new Map(glueColumnsOf(found).map((c) => [c.name, c.type]));
}

/** DuckDB expression: the text column `col` as the value of the destination column (NULL when it does not convert). */
function typedSql(col: string, mapping: Pick<ColumnMapping, 'destinationType'>, glueType: string): string {
  const d = mapping.destinationType.toUpperCase();
  if (d === 'TIMESTAMPTZ' || d === 'TIMESTAMP WITH TIME ZONE') return `timezone('UTC', TRY_CAST(${col} AS TIMESTAMPTZ))`;
  const type = duckTypeOf(glueType);
  return type ? `TRY_CAST(${col} AS ${type})` : `CAST(NULL AS VARCHAR)`;
}

/** Runs `fn` on an in-memory DuckDB in UTC. */
async function withDuck<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  try {
    await c.run("SET TimeZone = 'UTC'");
    return await fn(c);
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

/** Uploads a local Parquet file as the staging table `<table>__<kind>__ingesta_stage` (string columns but `booleans`). */
async function stage(ctx: ReconcileContext, name: string, kind: string, file: string, columns: readonly GlueColumn[]): Promise<string> {
  const folder = `${ctx.keys.base}/${name}/reconcile/${ctx.runId}/${kind}/`;
  const stageName = stagingTableName(glueName(`${name}__${kind}`));
  await ctx.fence(`uploading ${ctx.s3.url(folder)}`);
  await ctx.s3.uploadFile(`${folder}part-00000.parquet`, file);
  await ctx.fence(`creating the staging table ${ctx.dataset}.${stageName}`);
  await ctx.glue.putParquetTable(ctx.dataset, stageName, columns, ctx.s3.url(folder), { ingesta_run_id: ctx.runId });
  return stageName;
}

/** Drops a staging table, then its files (a table that is gone can no longer be read). */
async function unstage(ctx: ReconcileContext, stageName: string): Promise<void> {
  await ctx.fence(`dropping the staging table ${ctx.dataset}.${stageName}`);
  const found = await ctx.glue.getTable(ctx.dataset, stageName);
  await ctx.glue.deleteTable(ctx.dataset, stageName);
  const location = found?.StorageDescriptor?.Location;
  const prefix = `s3://${ctx.s3.bucket}/`;
  if (location?.startsWith(prefix) && location.includes('/reconcile/')) await ctx.s3.deletePrefix(location.slice(prefix.length).replace(/\/?$/, '/'));
}

const csvField = (v: string | null) => (v === null ? '' : `"${v.replace(/"/g, '""')}"`);

/** diffKeys on Athena: see KeyReconciler. */
export async function diffKeysOnAthena(ctx: ReconcileContext, request: KeyDiffRequest): Promise<KeyDiff> {
  const { keys, cursor, csvColumns, cursorText, typeOf } = keyDiffLayout(request, await columnTypes(ctx, request.table));
  const file = `${request.keysFile}.parquet`;
  const cursorTyped = typedSql(cursorText, request.cursorColumn, typeOf(cursor));
  try {
    await withDuck(async (c) => {
      const csv = readCsvSql(request.keysFile, csvColumns.map((name) => ({ name, csvType: 'VARCHAR' })));
      const typedKeys = request.keyColumns.map((k, i) => typedSql(`k${i}`, k, typeOf(k.name)));
      const [bad] = (
        await c.runAndReadAll(`SELECT ${keys.map((_, i) => `k${i}`).join(` || ', ' || `)} FROM ${csv} WHERE ${typedKeys.map((t, i) => `(k${i} IS NOT NULL AND ${t} IS NULL)`).join(' OR ')} LIMIT 1`)
      ).getRows();
      if (bad) {
        throw new DataError(
          `Reconciling the keys of ${request.table}: the source key (${String(bad[0])}) does not convert to the destination's key type, so the keys cannot ` +
            `be compared. Nothing was written. Run with --no-reconcile, or rebuild the table with --full-refresh ${request.table}.`,
        );
      }
      const bound = request.lowerBound === null ? undefined : typedSql(quoteLiteral(request.lowerBound), request.cursorColumn, typeOf(cursor));
      const boundOk = bound !== undefined && (await c.runAndReadAll(`SELECT ${bound} IS NOT NULL`)).getRows()[0]?.[0] === true;
      const inWindow = request.lowerBound === null ? 'false' : `(${cursorText} IS NULL${boundOk ? ` OR ${cursorTyped} >= ${bound}` : ''})`;
      await c.run(
        `COPY (SELECT ${typedKeys.map((t, i) => `CAST(${t} AS VARCHAR) AS k${i}, k${i} AS s${i}`).join(', ')}, CAST(${cursorTyped} AS VARCHAR) AS c, ${inWindow} AS w FROM ${csv}) ` +
          `TO ${quoteLiteral(file)} (FORMAT parquet)`,
      );
    });
    const stageColumns: GlueColumn[] = [...keys.flatMap((_, i) => [{ name: `k${i}`, type: 'string' }, { name: `s${i}`, type: 'string' }]), { name: 'c', type: 'string' }, { name: 'w', type: 'boolean' }];
    const stageName = await stage(ctx, request.table, 'keys', file, stageColumns);
    try {
      const target = table(ctx, request.table);
      const source = table(ctx, stageName);
      const match = (left: string) => keys.map((k, i) => `${left}.${quoteIdent(k)} = CAST(s.k${i} AS ${trinoType(typeOf(k))})`).join(' AND ');
      const missing = await ctx.athena.query(
        `SELECT ${keys.map((_, i) => `s.s${i}`).join(', ')} FROM ${source} AS s ` +
          `LEFT JOIN (SELECT ${keys.map(quoteIdent).join(', ')}, ${quoteIdent(cursor)} AS "_cursor", true AS "_present" FROM ${target}) AS t ON ${match('t')} ` +
          `WHERE NOT s.w AND (t."_present" IS NULL OR CAST(s.c AS ${trinoType(typeOf(cursor))}) IS DISTINCT FROM t."_cursor")`,
        { signal: ctx.signal },
      );
      const refetch = missing.rows.map((row) => row.map((v) => v ?? ''));
      const gone = await ctx.athena.query(
        `SELECT ${keys.map((k) => `t.${quoteIdent(k)}`).join(', ')} FROM ${target} AS t WHERE NOT EXISTS (SELECT 1 FROM ${source} AS s WHERE ${match('t')})`,
        { signal: ctx.signal },
      );
      writeFileSync(request.deletesFile, gone.rows.map((row) => `${row.map(csvField).join(',')}\n`).join(''));
      return { refetch, deleted: gone.rows.length };
    } finally {
      await unstage(ctx, stageName);
    }
  } catch (cause) {
    if (cause instanceof IngestError) throw cause;
    throw new DataError(`Reconciling the keys of ${request.table} failed: ${messageOf(cause).split('\n')[0]}. Nothing was written.`, { cause });
  } finally {
    rmSync(file, { force: true });
  }
}

/** After the MERGE of a reconciled table: deletes the keys diffKeys wrote to `deletesFile`. */
export async function applyDeletesOnAthena(ctx: ReconcileContext, name: string, primaryKey: readonly string[], deletesFile: string): Promise<void> {
  const types = await columnTypes(ctx, name);
  const file = `${deletesFile}.parquet`;
  try {
    await withDuck((c) =>
      c.run(`COPY (SELECT * FROM ${readCsvSql(deletesFile, primaryKey.map((_, i) => ({ name: `d${i}`, csvType: 'VARCHAR' })))}) TO ${quoteLiteral(file)} (FORMAT parquet)`),
    );
    const stageName = await stage(ctx, name, 'deletes', file, primaryKey.map((_, i) => ({ name: `d${i}`, type: 'string' })));
    try {
      const keys = primaryKey.map((k, i) => `CAST(d${i} AS ${trinoType(types.get(k) ?? 'string')}) AS d${i}`).join(', ');
      await ctx.fence(`deleting the keys gone from the source in ${ctx.dataset}.${name}`);
      await ctx.athena.execute(
        `MERGE INTO ${table(ctx, name)} AS t USING (SELECT ${keys} FROM ${table(ctx, stageName)}) AS d ` +
          `ON (${primaryKey.map((k, i) => `t.${quoteIdent(k)} = d.d${i}`).join(' AND ')}) WHEN MATCHED THEN DELETE`,
        { signal: ctx.signal },
      );
    } finally {
      await unstage(ctx, stageName);
    }
  } finally {
    rmSync(file, { force: true });
  }
}

/** countAfterMerge on Athena: the table's rows plus the batch's distinct keys it lacks; undefined when unknown. */
export async function countAfterMergeOnAthena(ctx: ReconcileContext, request: MergeCountRequest): Promise<number | undefined> {
  const file = `${request.batchFile}.keys.parquet`;
  try {
    const found = await ctx.glue.getTable(ctx.dataset, glueName(request.table));
    if (!found) return undefined;
    const types = new Map(glueColumnsOf(found).map((c) => [c.name, c.type]));
    const keys = request.keyColumns.map((c) => c.name);
    const target = table(ctx, request.table);
    if (request.batchRows === 0) {
      const [row] = (await ctx.athena.query(`SELECT count(*) FROM ${target}`, { signal: ctx.signal })).rows;
      return row?.[0] == null ? undefined : Number(row[0]);
    }
    await withDuck((c) => {
      const csv = readCsvSql(request.batchFile, request.columns.map((_, i) => ({ name: `c${i}`, csvType: 'VARCHAR' })));
      const position = (k: string) => request.columns.findIndex((col) => col.name === k);
      const typed = request.keyColumns.map((k, i) => `CAST(${typedSql(`c${position(k.name)}`, k, types.get(k.name) ?? 'string')} AS VARCHAR) AS k${i}`);
      return c.run(`COPY (SELECT DISTINCT ${typed.join(', ')} FROM ${csv}) TO ${quoteLiteral(file)} (FORMAT parquet)`);
    });
    const stageName = await stage(ctx, request.table, 'count', file, keys.map((_, i) => ({ name: `k${i}`, type: 'string' })));
    try {
      const match = keys.map((k, i) => `t.${quoteIdent(k)} = CAST(b.k${i} AS ${trinoType(types.get(k) ?? 'string')})`).join(' AND ');
      const [row] = (
        await ctx.athena.query(
          `SELECT (SELECT count(*) FROM ${target}) + (SELECT count(*) FROM ${table(ctx, stageName)} AS b WHERE NOT EXISTS (SELECT 1 FROM ${target} AS t WHERE ${match}))`,
          { signal: ctx.signal },
        )
      ).rows;
      return row?.[0] == null ? undefined : Number(row[0]);
    } finally {
      await unstage(ctx, stageName);
    }
  } catch {
    return undefined;
  } finally {
    rmSync(file, { force: true });
  }
}
