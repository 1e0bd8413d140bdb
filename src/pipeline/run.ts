import type { CatalogTable } from '../catalog/catalog.js';
import { refreshedTables, resolveTables } from './resolve-tables.js';
import { resolveConfig, resolveLibraryConfig, type RunOptions } from '../config/config.js';
import { planRun, type RunPlan } from './run-plan.js';
import type { Destination, TableLoadResult } from '../destination/destination.js';
import { createDestination, destinationLabel } from '../destination/create-destination.js';
import { asTypedError, ConfigError, IngestError, InterruptedError, messageOf } from '../errors.js';
import { createPackageFolder, newRunId, removePackage, writeManifest, type Manifest, type PackageTable } from '../package/load-package.js';
import type pg from 'pg';
import { closeSource, connectSource, exportSnapshot, joinSnapshot } from '../source/postgres/postgres-connection.js';
import { lockRelations, type RelationName } from '../source/postgres/table-locks.js';
import type { EventListener, PipelineEvent, QualityReport, RunSummary, TableSummary } from './events.js';
import { gateAfterLoad, validateOnly } from './quality-stage.js';
import { extractInParallel, extractTables } from './extract.js';
import { prepareReads } from './prepare-reads.js';
import { recoverPackages } from './recover.js';
import { destinationIdentity, packageRoot as packageRootOf } from '../package/package-root.js';
import { currentOwner } from '../package/package-owner.js';
import { dryRun as planDryRun, type DryRunPlan } from './dry-run.js';
import { writeSchemaExport } from '../schema/schema-document.js';
import { crashPoint, stallPoint } from '../faults/crash-points.js';
import { checkCdc, startCdc, type CdcStage } from './cdc-stage.js';

// the plan lives in run-plan.ts (imported by the stages); re-exported here for the library's entry points
export { datasetName, planRun, type RunPlan } from './run-plan.js';

export interface RunHooks {
  /** Receives progress events. */
  readonly onEvent?: EventListener;
  /** Environment variables to resolve from (default: the process environment); every INGESTA_* setting is read from these. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * Cancels the run (run() only): in-flight queries are cancelled, nothing uncommitted becomes visible, the package is
   * removed and the promise rejects with an InterruptedError — what SIGTERM does to the CLI.
   */
  readonly signal?: AbortSignal;
}

/**
 * Library entry point: resolve options (flags + env), then load (and run the gate if `validate`). Resolves with the
 * run summary; with `validateOnly`, use `validate()` instead; with `dryRun`, use `dryRun()` (refused here, before
 * anything is opened: a dry run must never load).
 */
export async function run(options: RunOptions, hooks: RunHooks = {}): Promise<RunSummary> {
  const plan = planRun(resolveLibraryConfig(options, hooks.env));
  if (plan.config.quality === 'only') throw new ConfigError('run() loads; call validate() for the quality gate alone.');
  return runPlan(plan, hooks.onEvent, hooks.signal);
}

/**
 * Library entry point for --dry-run: what a run would do (tables, modes, cursor windows, SELECTs, destination steps),
 * read-only on the source and the destination; nothing is written.
 */
export async function dryRun(options: RunOptions, hooks: RunHooks = {}): Promise<DryRunPlan> {
  return planDryRun(planRun(resolveConfig({ ...options, dryRun: true }, hooks.env)), hooks.onEvent);
}

/** A dry run asked of run() / runPlan(): refused before anything is opened (the CLI calls dryRun instead). */
function refuseDryRun(): never {
  throw new ConfigError('run() loads, and dryRun: true asks for nothing to be written: call dryRun() for the plan. Nothing was opened or written.');
}

/** Library entry point for the gate alone (--solo-validar): read-only on the source and the destination. */
export async function validate(options: RunOptions, hooks: RunHooks = {}): Promise<QualityReport> {
  return validateOnly(planRun(resolveConfig({ ...options, validateOnly: true }, hooks.env)), hooks.onEvent);
}

/**
 * One run: connect to the source, take the destination's lock, finish or discard a leftover package, extract
 * every table inside one REPEATABLE READ READ ONLY snapshot into a new load package, then load the package in
 * one destination transaction (data + cursors + load record) and remove it.
 */
export async function runPlan(plan: RunPlan, onEvent: EventListener = () => undefined, signal?: AbortSignal): Promise<RunSummary> {
  const { config, dataset } = plan;
  if (config.dryRun) refuseDryRun();
  const startedAt = new Date();
  const runId = newRunId(startedAt);
  const warnings: string[] = [];
  const extractMs = new Map<string, number>();
  // for the failure record: when the snapshot was taken, if it was
  let snapshotTakenAt: string | undefined;
  const emit = (event: PipelineEvent) => {
    if (event.type === 'snapshot_taken') snapshotTakenAt = event.snapshotAt;
    if (event.type === 'warning') warnings.push(event.table ? `${event.table}: ${event.message}` : event.message);
    if (event.type === 'extract_finished') extractMs.set(event.table, event.ms);
    onEvent(event);
  };

  await stallPoint('run-start');
  // the source first: a wrong connection setting fails before anything is created on the destination side
  const client = await connectSource(config.source, config);
  let destination: Destination | undefined;
  let packageDir: string | undefined;
  let tables: CatalogTable[] = [];
  let committed = false;
  let cdc: CdcStage | undefined;
  const extraClients: pg.Client[] = [];
  // SIGTERM / SIGINT: cancel what is in flight (closing the source connection ends its query on the server; DuckDB
  // and Athena interrupt theirs); the awaited step then fails and the normal clean-up below runs
  const onAbort = () => {
    for (const c of [client, ...extraClients]) c.end().catch(() => undefined);
    cdc?.interrupt();
    destination?.interrupt();
  };
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    // unknown names are found out here, before the destination is opened: nothing is created for a typo
    tables = await resolveTables(client, plan.catalog, plan.requests);
    await checkCdc(client, config, tables);
    const refresh = refreshedTables(config.fullRefresh, tables);
    destination = await createDestination(config, dataset, { runId });
    await destination.open();
    emit({ type: 'run_started', runId, env: config.env, dataset, destination: destinationLabel(config), tables: tables.map((t) => t.name) });
    // packages are kept per destination (resolved once the destination's folder exists): never another one's
    const packageRoot = packageRootOf(config, dataset);
    const recovered = await recoverPackages(destination, packageRoot, emit, destinationIdentity(config, dataset));

    // more connections read other tables at the same time, all inside the one exported snapshot, each holding the
    // run's table locks; opened as soon as the snapshot exists (and before the load transaction, so a failure here
    // leaves no transaction open: the run's failure record must not join it)
    const readers = [client];
    const openReaders = async (locked: readonly RelationName[]) => {
      if (config.maxConnections <= 1 || tables.length <= 1) return;
      const snapshotId = await exportSnapshot(client);
      for (let i = 1; i < Math.min(config.maxConnections, tables.length); i += 1) {
        const extra = await connectSource(config.source, config);
        extraClients.push(extra);
        await joinSnapshot(extra, snapshotId);
        await lockRelations(extra, locked);
        readers.push(extra);
      }
    };
    cdc = await startCdc(client, config, tables, refresh, destination, { destination: destinationIdentity(config, dataset), dataset }, emit);
    const prepared = await prepareReads(client, plan, tables, refresh, destination, emit, openReaders, cdc?.afterLock);
    const { snapshotAt, sources } = prepared;
    const reads = cdc ? cdc.adjustReads(prepared.reads) : prepared.reads;

    packageDir = await createPackageFolder(packageRoot, runId);
    const manifest: Manifest = {
      version: 1,
      runId,
      createdAt: startedAt.toISOString(),
      env: config.env,
      dataset,
      destination: destinationIdentity(config, dataset),
      owner: currentOwner(),
      state: 'extracting',
      snapshotAt,
      tables: [],
    };
    await writeManifest(packageDir, manifest);
    // a transactional destination loads each table as soon as its file is complete, while the next one is extracted;
    // nothing is visible before the commit, which comes only after the whole package is extracted
    const session = destination.beginLoad ? await destination.beginLoad(manifest, packageDir) : undefined;
    let loading: Promise<void> = Promise.resolve();
    if (session) emit({ type: 'load_started', tables: reads.length });
    const reconciler =
      destination.diffKeys && destination.countAfterMerge
        ? { diffKeys: destination.diffKeys.bind(destination), countAfterMerge: destination.countAfterMerge.bind(destination) }
        : undefined;
    const onExtracted = (table: PackageTable) => {
      if (session) loading = loading.then(() => session.loadTable(table)).catch(() => undefined);
    };
    const onTable = (r: TableLoadResult) => {
      for (const message of r.notes) emit({ type: 'warning', table: r.table, message });
      emit({ type: 'table_loaded', table: r.table, mode: r.mode, rowsLoaded: r.rowsLoaded, rowsInDestination: r.rowsInDestination });
    };
    let extracted: PackageTable[];
    let loaded: TableLoadResult[] | undefined;
    try {
      extracted = await extractInParallel(readers, reads, (c, chunk) => extractTables(c, chunk, packageDir!, emit, onExtracted, config.quality === 'after-load', reconciler));
      if (cdc) extracted.push(...(await cdc.extract(client, packageDir, emit, onExtracted)));
      manifest.tables.push(...extracted);
      manifest.state = 'extracted';
      await writeManifest(packageDir, manifest);
      crashPoint('after-extract');
      // the snapshot is released before committing: the source holds nothing of ours while the destination finishes
      for (const c of extraClients) await closeSource(c);
      await closeSource(client);
      if (session) {
        await loading;
        loaded = await session.commit(manifest, onTable);
      }
    } catch (error) {
      // whatever failed (a reader, the manifest on a full disk, the commit): the loads in flight finish, then the load
      // transaction is rolled back before anything else uses the destination (the failure record among others)
      await loading;
      await session?.abort();
      throw error;
    }
    if (!session) {
      emit({ type: 'load_started', tables: extracted.length });
      loaded = await destination.loadPackage(manifest, packageDir, onTable);
    }
    committed = true;
    crashPoint('after-commit');
    await cdc?.confirm(emit);
    await removePackage(packageDir);
    packageDir = undefined;
    if (config.schemaExportDir) await exportSchemaAfterCommit(config.schemaExportDir, destination, runId, emit);
    const quality = config.quality === 'after-load' ? await gateAfterLoad(plan, tables, destination, sources, extracted, runId, emit) : undefined;

    const finishedAt = new Date();
    const summary: RunSummary = {
      runId,
      env: config.env,
      dataset,
      destination: destinationLabel(config),
      snapshotAt,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      tables: extracted.map((t): TableSummary => {
        const l = loaded!.find((x) => x.table === t.name)!;
        return {
          table: t.name,
          mode: l.mode,
          rowsExtracted: t.rows,
          bytesExtracted: t.bytes,
          extractMs: Math.round(extractMs.get(t.name) ?? 0),
          rowsInDestination: l.rowsInDestination,
          sourceRows: t.sourceRowCount,
          cursorFrom: t.cursor?.lowerBound ?? null,
          cursorTo: t.cursor ? (t.cursor.next ?? t.cursor.previous) : null,
        };
      }),
      recovered,
      warnings,
      ...(quality ? { quality } : {}),
    };
    emit({ type: 'run_finished', summary });
    return summary;
  } catch (caught) {
    const error = signal?.aborted
      ? new InterruptedError(
          committed
            ? `Stopped by a signal after the load was committed (run ${runId}); the data and state of this run are in place, the quality gate did not finish.`
            : `Stopped by a signal (run ${runId}): in-flight queries were cancelled and nothing of this run was committed; the destination is as it was.`,
          { cause: caught },
        )
      : asTypedError(caught);
    // a run that failed cleanly leaves no package behind: a leftover package always means a crash
    if (packageDir) await removePackage(packageDir).catch(() => undefined);
    const message = error instanceof IngestError ? error.message : messageOf(error);
    if (!committed) {
      const times = { startedAt: startedAt.toISOString(), snapshotAt: snapshotTakenAt };
      await destination?.recordFailure(runId, config.env, tables.map((t) => t.name), message, times).catch(() => undefined);
    }
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    for (const c of extraClients) await closeSource(c);
    await closeSource(client);
    await cdc?.close();
    await destination?.close();
  }
}

/**
 * The schema export comes after the commit: the run has succeeded and is recorded as loaded, so a failure here (an
 * unwritable folder) is one warning, never a failed exit that would make an orchestrator retry a completed load.
 */
async function exportSchemaAfterCommit(dir: string, destination: Destination, runId: string, emit: EventListener): Promise<void> {
  try {
    writeSchemaExport(dir, await destination.schemaDocument());
  } catch (error) {
    emit({ type: 'warning', message: `the load of run ${runId} is committed, but the schema export was not written: ${messageOf(error)}` });
  }
}
