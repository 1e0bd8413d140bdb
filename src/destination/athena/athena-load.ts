import path from 'node:path';
import type { Manifest } from '../../package/load-package.js';
import { crashPoint } from '../../faults/crash-points.js';
import { NormalizeSession } from '../../normalize/normalize-session.js';
import type { TypedParquet } from '../../normalize/typed-parquet.js';
import type { TableLoadResult } from '../destination.js';
import type { AthenaDataset } from './athena-connection.js';
import { mergeIceberg, replaceParquet, uploadFolder } from './athena-load-table.js';
import { BackgroundUploads } from './athena-uploads.js';
import { reduceChanges, splitCdcBatch, type CdcBatch } from './athena-cdc.js';
import { prepareTable, writeBatchFile, type PreparedTable } from './athena-prepare.js';
import { applyBackfillOnAthena, writeBackfillFile } from './athena-backfill.js';
import { glueName, type AthenaState, type AthenaTableState } from './athena-state.js';
import { athenaColumnType } from './athena-type-map.js';
import { quoteIdent } from '../../sql/quote.js';
import { DestinationError } from '../../errors.js';

/**
 * The load of a package into S3 + Glue + Athena. There are no transactions, so the steps are ordered so that state
 * never runs ahead of data: every table's file is written and checked first, each uploaded in the background as soon
 * as it is (athena-uploads.ts: uploads overlap the typing of the next tables); a misfit or a failed upload stops the
 * run before anything is published, and this run's uploaded folders are removed. Leftovers of earlier runs are removed
 * meanwhile; once every upload is done, each table is published (athena-load-table.ts), and only then state.json
 * (If-Match) and the run record are written.
 */
export async function loadPackageOnAthena(ds: AthenaDataset, manifest: Manifest, packageDir: string, onTable?: (result: TableLoadResult) => void): Promise<TableLoadResult[]> {
  const uploads = new BackgroundUploads(ds);
  try {
    return await typeAndPublish(ds, manifest, packageDir, uploads, onTable);
  } catch (error) {
    // nothing of this run is published before every table is typed, checked and uploaded: its uploads stop and the
    // folders nothing publishes yet are removed (athena-uploads.ts)
    await uploads.abandon();
    throw error;
  }
}

async function typeAndPublish(ds: AthenaDataset, manifest: Manifest, packageDir: string, uploads: BackgroundUploads, onTable?: (result: TableLoadResult) => void): Promise<TableLoadResult[]> {
  // the package is typed and measured by normalize (an in-memory DuckDB), each table written out as Parquet, then
  // checked against its table: a value that does not fit an Iceberg column stops the run before anything is published
  const typed: TypedParquet[] = [];
  const prepared: PreparedTable[] = [];
  const backfills: (TypedParquet | undefined)[] = [];
  // change data capture: the changes reduced to one row per key first (athena-cdc.ts), then typed as any batch
  const changes: (CdcBatch | undefined)[] = [];
  const session = await NormalizeSession.open(path.join(packageDir, 'normalize.tmp'), ds.options.duckdb);
  try {
    for (const table of manifest.tables) {
      const reduced = table.cdc ? await reduceChanges(session, table, packageDir) : undefined;
      const file = await writeBatchFile(session, reduced?.table ?? table, packageDir);
      const split = reduced ? splitCdcBatch(file, table, reduced) : undefined;
      typed.push(split?.typed ?? file);
      changes.push(split?.batch);
      const ready = await prepareTable(ds.glue, ds.dataset, split?.typed ?? file, table);
      prepared.push(ready);
      // its files are final (prepareTable may have cast them): uploaded while the next tables are typed
      const folder = uploadFolder(ds, manifest, table, ready.plan !== undefined, split?.batch);
      if (folder) uploads.start(folder, ready.files);
      uploads.check();
    }
    // (a backfill file is typed as a table of its own, after the package's tables: see athena-backfill.ts)
    for (const table of manifest.tables) backfills.push(await writeBackfillFile(session, table, packageDir));
  } finally {
    session.close();
  }
  uploads.check();
  const results: TableLoadResult[] = [];
  const tables: Record<string, AthenaTableState> = { ...ds.state.tables };
  const cleanup = await ds.cleanUp(manifest.runId, manifest.tables.filter((t) => t.writeDisposition === 'merge').map((t) => t.name));
  // every file in S3 before the first table is published: a failed upload publishes nothing (the uploads still in
  // flight overlapped the typing of the last tables and the clean-up)
  await uploads.finish();
  await ds.fence('creating the Glue database');
  await ds.glue.ensureDatabase(ds.dataset, 'raw layer loaded by ingesta');
  const uploaded = (folder: string) => uploads.wait(folder);
  for (const [i, { table, columns, plan }] of prepared.entries()) {
    const next = plan
      ? await mergeIceberg(ds, manifest, table, uploaded, plan, table.reconcile?.deletesFile ? path.join(packageDir, table.reconcile.deletesFile) : undefined, changes[i])
      : await replaceParquet(ds, manifest, table, uploaded, columns.map(([name, type]) => ({ name, type: athenaColumnType(name, type).athenaType })));
    if (plan && table.backfill) await applyBackfillOnAthena(ds.reconcileContext(manifest.runId), backfills[i], manifest, table, plan.columns);
    tables[table.name] = {
      kind: next.kind,
      location: next.location,
      columns,
      primaryKey: table.primaryKey,
      source: `${table.sourceSchema}.${table.sourceName}`,
      writeDisposition: table.writeDisposition,
      cursor: table.cursor ? { column: table.cursor.column, type: table.cursor.columnType, value: table.cursor.next ?? table.cursor.previous } : undefined,
      runId: manifest.runId,
      snapshotAt: manifest.snapshotAt,
      rows: table.rows,
      sources: Object.fromEntries(table.columns.map((c) => [c.name, { name: c.sourceName, type: c.sourceType }])),
    };
    const notes = [
      ...typed[i]!.notes,
      ...(i === 0 ? cleanup : []),
      ...(plan?.rebuild
        ? [plan.dropped?.length ? `rebuilt the Iceberg table without ${plan.dropped.join(', ')} (no longer in the source)` : `rebuilt the Iceberg table with this load's column types (a value did not fit the old ones)`]
        : []),
      ...(table.unnest.length > 0 ? [`unnest (${table.unnest.join(', ')}) is not applied in dev/prod yet: the column stays JSON/array`] : []),
    ];
    results.push({ table: table.name, mode: table.replaceAll ? 'full' : 'incremental', rowsLoaded: table.rows, rowsInDestination: next.rows ?? Number.NaN, notes });
  }
  // an Iceberg table holds its older rows too: counted once all are published, in one query (regression: the batch's
  // rows were reported as the rows in the destination)
  await countMerged(ds, results);
  for (const r of results) if (tables[r.table]?.kind === 'iceberg') tables[r.table] = { ...tables[r.table]!, rowsInDestination: r.rowsInDestination };
  // the data is in place: now, and only now, the state and the run record
  crashPoint('before-commit');
  ds.assertLockHeld();
  const state: AthenaState = { version: 1, tables };
  await ds.writeState(state);
  await ds.fence('writing the run record');
  await ds.s3.putJson(ds.keys.run(manifest.runId), {
    run_id: manifest.runId, env: manifest.env, status: 'loaded', snapshot_at: manifest.snapshotAt, started_at: manifest.createdAt,
    finished_at: new Date().toISOString(), tables: results.map((r) => ({ table: r.table, mode: r.mode, rows: r.rowsLoaded })),
  });
  // the previous data folders of full tables stay: a later run's clean-up removes them once superseded long enough
  crashPoint('after-commit');
  for (const r of results) onTable?.(r);
  return results;
}

/**
 * Fills in the rows each merged (Iceberg) table this run changed holds now: `SELECT count(*)` of each, one Athena query
 * for all (none when no merged table changed: their counts come from the state).
 */
async function countMerged(ds: AthenaDataset, results: TableLoadResult[]): Promise<void> {
  const unknown = results.map((r, i) => [r, i] as const).filter(([r]) => Number.isNaN(r.rowsInDestination));
  if (unknown.length === 0) return;
  ds.assertLockHeld();
  const sql = unknown.map(([r, i]) => `SELECT ${i} AS i, count(*) AS n FROM ${quoteIdent(ds.dataset)}.${quoteIdent(glueName(r.table))}`).join(' UNION ALL ');
  const { rows } = await ds.athena.query(sql, { signal: ds.signal });
  const counted = new Map(rows.map((row) => [Number(row[0]), Number(row[1])]));
  for (const [r, i] of unknown) {
    const n = counted.get(i);
    if (n === undefined || !Number.isFinite(n)) {
      throw new DestinationError(`Counting the rows of ${ds.dataset}.${glueName(r.table)} in Athena after its merge returned no number; the data is merged, the state not written: run again (the next run merges the same rows again).`);
    }
    results[i] = { ...r, rowsInDestination: n };
  }
}
