/**
 * The MERGE path by batch size, after bench:athena's full load: per round, a slice of contents and content_attributes
 * is changed in PostgreSQL (key % M = 1: M = 1000, 100, 10 for ≈ 0.1 %, 1 %, 10 %; the previous round's rows moved a
 * day back first, so each run reads its own slice only: the cursor comparison is >=), then
 * `--env dev --tables contents content_attributes --no-reconcile --lag 0`, measured (lib-dev-run.ts). A last run
 * per repetition changes nothing: the fixed cost of a run alone. After each run: the objects under each table's S3
 * prefix (its kept batches, its Iceberg folder), the stand-in's per-statement floor (a `SELECT 1`) and a check that
 * the Iceberg table holds the source's rows and this round's titles.
 */
import { withClient, changeSlice, type ChangeRound, type KeySlice } from './lib-db.js';
import { runDev, type DevRun, type DevRunContext } from './lib-dev-run.js';
import { s3Objects, tally } from './lib-standin-probe.js';
import type { Lakehouse } from '../test/helpers/lakehouse.js';

export const MERGE_TABLES = ['contents', 'content_attributes'] as const;

export interface BatchSize {
  readonly label: string;
  readonly slice: KeySlice | undefined;
}

export const BATCH_SIZES: readonly BatchSize[] = [
  { label: '0.1 %', slice: { modulus: 1000, remainder: 1 } },
  { label: '1 %', slice: { modulus: 100, remainder: 1 } },
  { label: '10 %', slice: { modulus: 10, remainder: 1 } },
];
const NO_CHANGE: BatchSize = { label: 'no change', slice: undefined };

/** Objects under one table's S3 prefix after a run. */
export interface TableObjects {
  readonly batchFiles: number;
  readonly batchBytes: number;
  readonly batchRuns: number;
  readonly icebergFiles: number;
  readonly icebergBytes: number;
}

export interface MergeRun {
  readonly size: string;
  readonly repetition: number;
  readonly change: ChangeRound;
  readonly run: DevRun;
  /** After the run, per table. */
  readonly objects: Record<string, TableObjects>;
  /** What the run added under the two tables' prefixes (files, bytes). */
  readonly added: { readonly files: number; readonly bytes: number };
  /** The stand-in's time for `SELECT 1` right after the run: its fixed cost per statement (views re-made, parse). */
  readonly statementFloorMs: number;
  /** Rows in the Iceberg table vs the source, and this round's changed titles found in it vs changed. */
  readonly check: { readonly ok: boolean; readonly detail: string };
}

export interface MergeContext extends DevRunContext {
  readonly lake: Lakehouse;
  readonly s3Root: string;
  readonly sourceUrl: string;
  readonly log: (m: string) => void;
}

function objectsOf(s3Root: string, table: string): TableObjects {
  const all = s3Objects(s3Root);
  const batches = all.filter((o) => o.key.includes(`/${table}/batches/`));
  const iceberg = all.filter((o) => o.key.includes(`/${table}/iceberg/`));
  return {
    batchFiles: batches.length,
    batchBytes: batches.reduce((a, o) => a + o.bytes, 0),
    batchRuns: new Set(batches.map((o) => o.key.split(`/${table}/batches/`)[1]?.split('/')[0])).size,
    icebergFiles: iceberg.length,
    icebergBytes: iceberg.reduce((a, o) => a + o.bytes, 0),
  };
}

function datasetOf(lake: Lakehouse, table: string): string {
  const t = [...lake.aws.tables.values()].find((x) => x.name === table && x.kind === 'iceberg');
  if (!t) throw new Error(`no Iceberg table ${table} in the Glue stand-in after the full load`);
  return t.database;
}

async function check(ctx: MergeContext, change: ChangeRound): Promise<MergeRun['check']> {
  const problems: string[] = [];
  const counts: string[] = [];
  for (const table of MERGE_TABLES) {
    const ds = datasetOf(ctx.lake, table);
    const changed = table === 'contents' ? `, sum(CASE WHEN title LIKE '% r${change.round}' THEN 1 ELSE 0 END) AS changed` : '';
    const [row] = await ctx.lake.athenaQuery(`SELECT count(*) AS n${changed} FROM "${ds}"."${table}"`);
    const source = await withClient(ctx.sourceUrl, async (c) => Number((await c.query(`SELECT count(*) AS n FROM public.${table}`)).rows[0].n));
    counts.push(`${table} ${row?.n}`);
    if (Number(row?.n) !== source) problems.push(`${table}: ${row?.n} rows in Iceberg, ${source} in the source`);
    if (table === 'contents' && change.contents > 0 && Number(row?.changed) !== change.contents) {
      problems.push(`contents: ${row?.changed} rows carry this round's title, ${change.contents} were changed`);
    }
  }
  return { ok: problems.length === 0, detail: problems.length ? problems.join('; ') : counts.join(', ') };
}

/** One round: change, run, then what is in S3, the stand-in's statement floor and the check (outside the measured window). */
async function round(ctx: MergeContext, size: BatchSize, repetition: number, n: number, previous: KeySlice | undefined): Promise<MergeRun> {
  const change = await changeSlice(ctx.sourceUrl, n, size.slice, previous);
  const total = (o: Record<string, TableObjects>) => Object.values(o).reduce((a, x) => ({ files: a.files + x.batchFiles + x.icebergFiles, bytes: a.bytes + x.batchBytes + x.icebergBytes }), { files: 0, bytes: 0 });
  const before = total(Object.fromEntries(MERGE_TABLES.map((t) => [t, objectsOf(ctx.s3Root, t)])));
  const run = await runDev(ctx, ['--tables', ...MERGE_TABLES, '--no-reconcile', '--lag', '0', '--no-schema-export']);
  const objects = Object.fromEntries(MERGE_TABLES.map((t) => [t, objectsOf(ctx.s3Root, t)]));
  const after = total(objects);
  const added = { files: after.files - before.files, bytes: after.bytes - before.bytes };
  const mark = ctx.probe.mark();
  await ctx.lake.athenaQuery('SELECT 1 AS one');
  const statementFloorMs = tally(ctx.probe.since(mark).statements, /^SELECT$/).ms;
  const result = { size: size.label, repetition, change, run, objects, added, statementFloorMs, check: await check(ctx, change) };
  const merge = tally(run.work.statements, /^MERGE$/);
  ctx.log(
    `  ${size.label.padEnd(9)} rows ${Object.values(run.rows).reduce((a, b) => a + b, 0)}, wall ${(run.wallMs / 1000).toFixed(2)} s, ` +
      `MERGE ×${merge.count} ${(merge.ms / 1000).toFixed(2)} s, files under the 2 tables' prefixes ${after.files} (${(after.bytes / 1e6).toFixed(2)} MB), ` +
      `check ${result.check.ok ? 'ok' : `FAILED: ${result.check.detail}`}`,
  );
  return result;
}

/**
 * `repetitions` passes over the batch sizes (ascending, then descending, alternating), each pass followed by a run
 * with no change.
 */
export async function measureMergeSizes(ctx: MergeContext, repetitions: number): Promise<MergeRun[]> {
  const runs: MergeRun[] = [];
  let previous: KeySlice | undefined;
  let n = 1000;
  for (let rep = 1; rep <= repetitions; rep++) {
    const order = rep % 2 === 1 ? [...BATCH_SIZES] : [...BATCH_SIZES].reverse();
    for (const size of [...order, NO_CHANGE]) {
      runs.push(await round(ctx, size, rep, ++n, previous));
      previous = size.slice;
    }
  }
  return runs;
}
