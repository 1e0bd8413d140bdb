import type { _Object } from '@aws-sdk/client-s3';
import { messageOf } from '../../errors.js';
import type { AthenaState, DatasetKeys } from './athena-state.js';
import { stagingTableName } from './athena-state.js';
import type { GlueCatalog, Table } from './glue-catalog.js';
import type { S3Store } from './s3-store.js';

// the hour is resolved with the config (INGESTA_KEEP_SUPERSEDED, config/runtime-settings.ts)
export { DEFAULT_KEEP_SUPERSEDED_MS } from '../../config/runtime-settings.js';

export interface CleanUpContext {
  readonly dataset: string;
  readonly keys: DatasetKeys;
  readonly state: AthenaState;
  readonly glue: GlueCatalog;
  readonly s3: S3Store;
  /** This run's id: its own folders are never touched. */
  readonly currentRun: string;
  /** The run's merge tables: their batch folders are checked even before state.json knows them. */
  readonly mergeTables?: readonly string[];
  readonly keepSupersededMs: number;
  /** Fences each deletion with the dataset lock (see DatasetLock.check). */
  readonly fence: (step: string) => Promise<void>;
  readonly now?: () => number;
}

const folderOf = (key: string) => key.slice(0, key.lastIndexOf('/') + 1);

/**
 * Removes what earlier runs left, at the start of a load: staging tables, data folders of full (Parquet) tables
 * that no Glue table points at, and batch folders of merge tables that no committed run wrote (cleanUpBatches). A folder is deleted only with positive knowledge that no table reads it: when Glue
 * cannot be listed, nothing is deleted (a warning says so; the next run tries again). A folder that was published and
 * then replaced is kept `keepSupersededMs` after its replacement was written (queries that started on it still read
 * it); a folder newer than the published one was never published (a run died before its repoint) and goes at once.
 * Returns notes for the run's output.
 */
export async function cleanUpLeftovers(ctx: CleanUpContext): Promise<string[]> {
  let tables: Table[];
  try {
    // a new dataset (no table in state) has no Glue database before its first load creates it: nothing to keep, so
    // nothing to list (regression: every first run warned "clean-up skipped … Database … not found")
    tables = await ctx.glue.listTables(ctx.dataset, undefined, { missingDatabase: Object.keys(ctx.state.tables).length === 0 ? 'empty' : 'error' });
  } catch (error) {
    return [`clean-up skipped: the Glue tables of ${ctx.dataset} could not be listed (${messageOf(error).split('\n')[0]}), so no leftover was removed; the next run tries again`];
  }
  const notes: string[] = [];
  for (const t of tables) {
    if (t.Name?.endsWith(stagingTableName(''))) {
      await ctx.fence(`dropping the staging table ${ctx.dataset}.${t.Name}`);
      await ctx.glue.deleteTable(ctx.dataset, t.Name);
      notes.push(`removed the leftover staging table ${ctx.dataset}.${t.Name}`);
    }
  }
  const bucketPrefix = `s3://${ctx.s3.bucket}/`;
  // every folder any Glue table of the dataset reads
  const read = new Set(
    tables.flatMap((t) => {
      const location = t.StorageDescriptor?.Location;
      return location?.startsWith(bucketPrefix) ? [location.slice(bucketPrefix.length).replace(/\/?$/, '/')] : [];
    }),
  );
  const names = new Set([
    ...Object.entries(ctx.state.tables).filter(([, t]) => t.kind === 'parquet').map(([name]) => name),
    ...tables.filter((t) => t.Parameters?.table_type?.toUpperCase() !== 'ICEBERG' && t.Name && !t.Name.endsWith(stagingTableName(''))).map((t) => t.Name!),
  ]);
  const now = (ctx.now ?? Date.now)();
  for (const table of names) {
    const root = ctx.keys.dataRoot(table);
    const folders = new Map<string, _Object[]>();
    for (const o of await ctx.s3.list(root)) {
      const folder = folderOf(o.Key!);
      folders.set(folder, [...(folders.get(folder) ?? []), o]);
    }
    const written = (objects: readonly _Object[]) => Math.max(...objects.map((o) => o.LastModified?.getTime() ?? now));
    const published = [...folders.keys()].filter((f) => read.has(f));
    const publishedAt = published.length > 0 ? Math.max(...published.map((f) => written(folders.get(f)!))) : undefined;
    let removed = 0;
    for (const [folder, objects] of folders) {
      if (read.has(folder) || folder.includes(`/${ctx.currentRun}/`)) continue;
      const neverPublished = publishedAt === undefined || written(objects) > publishedAt;
      if (!neverPublished && now - publishedAt < ctx.keepSupersededMs) continue;
      await ctx.fence(`deleting ${ctx.s3.url(folder)}`);
      await ctx.s3.deletePrefix(folder);
      removed += 1;
    }
    if (removed > 0) notes.push(`${table}: removed ${removed} data folder(s) no table reads`);
  }
  return [...notes, ...(await cleanUpBatches(ctx))];
}

/**
 * A merge table's batch folders (<table>/batches/<run>/ and <run>-backfill/) are kept as the record of what each
 * committed run merged. A folder of a run that never committed — killed, or failed after its uploads when its own
 * removal of them failed (athena-uploads.ts) — records nothing: no table reads it (its staging table, if any, is
 * dropped above) and the table's cursor or CDC position did not advance, so the next committed run reads those rows
 * again and its own batch holds them. Left in place it would look like a merged batch, so it is removed: a folder of
 * a run newer than the table's last committed load (state.json's runId; run ids begin with their start time) whose run
 * record does not say `loaded`. Older folders are kept: the clean-up of the run after each of them judged it already.
 */
async function cleanUpBatches(ctx: CleanUpContext): Promise<string[]> {
  const names = new Set([...(ctx.mergeTables ?? []), ...Object.entries(ctx.state.tables).filter(([, t]) => t.kind === 'iceberg').map(([name]) => name)]);
  const loaded = new Map<string, Promise<boolean>>();
  const isLoaded = (runId: string) => {
    if (!loaded.has(runId)) loaded.set(runId, ctx.s3.getJson<{ status?: string }>(ctx.keys.run(runId)).then((r) => r?.value.status === 'loaded'));
    return loaded.get(runId)!;
  };
  const notes: string[] = [];
  for (const table of names) {
    const root = ctx.keys.batchRoot(table);
    const committed = ctx.state.tables[table]?.runId;
    let removed = 0;
    for (const folder of await ctx.s3.folders(root)) {
      const runId = folder.slice(root.length, -1).replace(/-backfill$/, '');
      if (runId === ctx.currentRun || (committed !== undefined && runId <= committed) || (await isLoaded(runId))) continue;
      await ctx.fence(`deleting ${ctx.s3.url(folder)}`);
      await ctx.s3.deletePrefix(folder);
      removed += 1;
    }
    if (removed > 0) notes.push(`${table}: removed ${removed} batch folder(s) of runs that did not commit`);
  }
  return notes;
}
