import type { CatalogTable } from '../catalog/catalog.js';
import { refreshedTables, resolveTables } from './resolve-tables.js';
import { resolveConfig, resolveLibraryConfig, type RunConfig, type RunOptions } from '../config/config.js';
import { planRun, type RunPlan } from './run-plan.js';
import type { Destination } from '../destination/destination.js';
import { createDestination, destinationLabel } from '../destination/create-destination.js';
import { asTypedError, ConfigError, IngestError, InterruptedError, messageOf } from '../errors.js';
import { createPackageFolder, newRunId, removePackage, writeManifest, type Manifest, type PackageTable } from '../package/load-package.js';
import type pg from 'pg';
import { closeSource, connectSource, exportSnapshot, joinSnapshot } from '../source/postgres/postgres-connection.js';
import { lockRelationsNowait, type RelationName } from '../source/postgres/table-locks.js';
import type { EventListener, QualityReport, RunSummary } from './events.js';
import { gateAfterLoad, validateOnly } from './quality-stage.js';
import { extractAndLoad } from './extract-and-load.js';
import { collectRunEvents, summarizeRun } from './run-summary.js';
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
 * One run, in the order the steps below run: connect to the source, resolve the tables, open the destination (its
 * lock), finish or discard a leftover package, take the snapshot and plan every read (prepareReads), start a new load
 * package, extract every table into it and load it in one destination transaction (data + cursors + load record),
 * remove it, export the schema, run the gate. A failure before the commit records a failed run and removes the package.
 */
export async function runPlan(plan: RunPlan, onEvent: EventListener = () => undefined, signal?: AbortSignal): Promise<RunSummary> {
  const { config, dataset } = plan;
  if (config.dryRun) refuseDryRun();
  const startedAt = new Date();
  const runId = newRunId(startedAt);
  const events = collectRunEvents(onEvent);
  const { emit } = events;

  await stallPoint('run-start');
  // the source first: a wrong connection setting fails before anything is created on the destination side
  const client = await connectSource(config.source, config);
  const run: OpenRun = { client, extraClients: [], tables: [], committed: false };
  // SIGTERM / SIGINT: cancel what is in flight (closing the source connection ends its query on the server; DuckDB
  // and Athena interrupt theirs); the awaited step then fails and the normal clean-up below runs
  const onAbort = () => {
    for (const c of [client, ...run.extraClients]) c.end().catch(() => undefined);
    run.cdc?.interrupt();
    run.destination?.interrupt();
  };
  if (signal?.aborted) onAbort();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    // unknown names are found out here, before the destination is opened: nothing is created for a typo
    const tables = (run.tables = await resolveTables(client, plan.catalog, plan.requests));
    await checkCdc(client, config, tables);
    const refresh = refreshedTables(config.fullRefresh, tables);
    const destination = (run.destination = await createDestination(config, dataset, { runId }));
    await destination.open();
    emit({ type: 'run_started', runId, env: config.env, dataset, destination: destinationLabel(config), tables: tables.map((t) => t.name) });
    // packages are kept per destination (resolved once the destination's folder exists): never another one's
    const packageRoot = packageRootOf(config, dataset);
    const recovered = await recoverPackages(destination, packageRoot, emit, destinationIdentity(config, dataset));

    const joinReaders = (locked: readonly RelationName[]) => openReaders(run, config, locked, emit);
    const cdc = (run.cdc = await startCdc(client, config, tables, refresh, destination, { destination: destinationIdentity(config, dataset), dataset }, emit));
    const prepared = await prepareReads(client, plan, tables, refresh, destination, emit, joinReaders, cdc);
    const { snapshotAt, sources } = prepared;
    const reads = cdc ? cdc.adjustReads(prepared.reads) : prepared.reads;
    const manifest = newManifest(plan, runId, startedAt, snapshotAt);
    const packageDir = (run.packageDir = await createPackageFolder(packageRoot, runId));
    await writeManifest(packageDir, manifest);
    const { extracted, loaded } = await extractAndLoad({
      destination, manifest, packageDir, reads, emit,
      progressIntervalMs: config.progressIntervalMs,
      readers: [client, ...run.extraClients],
      countIncremental: config.quality === 'after-load',
      releaseSnapshot: () => closeReaders(run),
      ...(cdc ? { extractChanges: (onExtracted: (t: PackageTable) => void) => cdc.extract(client, packageDir, emit, onExtracted) } : {}),
    });
    run.committed = true;
    crashPoint('after-commit');
    await run.cdc?.confirm(emit);
    await removePackage(packageDir);
    run.packageDir = undefined;

    if (config.schemaExportDir) await exportSchemaAfterCommit(config.schemaExportDir, destination, runId, emit);
    const quality = config.quality === 'after-load' ? await gateAfterLoad(plan, tables, destination, sources, extracted, runId, emit) : undefined;
    const summary = summarizeRun(
      { runId, env: config.env, dataset, destination: destinationLabel(config), snapshotAt, startedAt, extracted, loaded, recovered, quality },
      events,
    );
    emit({ type: 'run_finished', summary });
    return summary;
  } catch (caught) {
    const error = runFailure(caught, signal, run.committed, runId);
    // a run that failed cleanly leaves no package behind: a leftover package always means a crash
    if (run.packageDir) await removePackage(run.packageDir).catch(() => undefined);
    if (!run.committed) {
      const message = error instanceof IngestError ? error.message : messageOf(error);
      const times = { startedAt: startedAt.toISOString(), snapshotAt: events.snapshotAt() };
      await run.destination?.history.recordFailure(runId, config.env, run.tables.map((t) => t.name), message, times).catch(() => undefined);
    }
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await closeReaders(run);
    await run.cdc?.close();
    await run.destination?.close();
  }
}

/** What a run has opened or decided so far: what its clean-up, its abort and its failure record need. */
interface OpenRun {
  readonly client: pg.Client;
  /** The snapshot's other reader connections. */
  readonly extraClients: pg.Client[];
  tables: CatalogTable[];
  destination?: Destination;
  /** The package folder, until it is removed. */
  packageDir?: string;
  committed: boolean;
  /** The change data capture stage, when a table of the run is loaded by CDC. */
  cdc?: CdcStage;
}

/**
 * More connections read other tables at the same time (up to --max-connections, one per table at most), all inside
 * the one exported snapshot; opened as soon as the snapshot exists (and before the load transaction, so a failure
 * here leaves no transaction open: the run's failure record must not join it). Each takes the run's ACCESS SHARE
 * locks, without waiting. A lock not granted at once means a
 * conflicting command (TRUNCATE, a rewriting ALTER TABLE, …) arrived after the first reader locked and is waiting for
 * the run; a reader queued behind it would wait for the run too, until lock_timeout failed it. That reader is closed
 * and the run reads with the connections it has, saying so in a warning; the command runs once the run ends.
 */
async function openReaders(run: OpenRun, config: RunConfig, locked: readonly RelationName[], emit: EventListener): Promise<void> {
  if (config.maxConnections <= 1 || run.tables.length <= 1) return;
  const snapshotId = await exportSnapshot(run.client);
  const wanted = Math.min(config.maxConnections, run.tables.length);
  for (let i = 1; i < wanted; i += 1) {
    const extra = await connectSource(config.source, config);
    run.extraClients.push(extra);
    await joinSnapshot(extra, snapshotId);
    const queued = await lockRelationsNowait(extra, locked);
    if (!queued) continue;
    run.extraClients.pop();
    await closeSource(extra);
    emit({
      type: 'warning',
      message:
        `another session is waiting for a conflicting lock on ${queued.schema}.${queued.name} (TRUNCATE, ALTER TABLE, …) behind this run: ` +
        `reading with ${i} of ${wanted} source connections; that command runs once this run ends`,
    });
    return;
  }
}

/** Closes every source connection of the run (the snapshot is released); closing twice is harmless. */
async function closeReaders(run: OpenRun): Promise<void> {
  for (const c of run.extraClients) await closeSource(c);
  await closeSource(run.client);
}

/** A new package's manifest, in state `extracting`, owned by this process. */
function newManifest(plan: RunPlan, runId: string, startedAt: Date, snapshotAt: string): Manifest {
  const { config, dataset } = plan;
  return {
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
}

/** The error a failed run rejects with: an InterruptedError when a signal stopped it, else the typed error. */
function runFailure(caught: unknown, signal: AbortSignal | undefined, committed: boolean, runId: string): unknown {
  if (!signal?.aborted) {
    return asTypedError(
      caught,
      committed
        ? `The load of run ${runId} was committed before this failure; its data and state are in place.`
        : 'Nothing was committed; the previous data and state are intact.',
    );
  }
  return new InterruptedError(
    committed
      ? `Stopped by a signal after the load was committed (run ${runId}); the data and state of this run are in place, the quality gate did not finish.`
      : `Stopped by a signal (run ${runId}): in-flight queries were cancelled and nothing of this run was committed; the destination is as it was.`,
    { cause: caught },
  );
}

/**
 * The schema export comes after the commit: the run has succeeded and is recorded as loaded, so a failure here (an
 * unwritable folder) is one warning, never a failed exit that would make an orchestrator retry a completed load.
 */
async function exportSchemaAfterCommit(dir: string, destination: Destination, runId: string, emit: EventListener): Promise<void> {
  try {
    writeSchemaExport(dir, await destination.history.schemaDocument());
  } catch (error) {
    emit({ type: 'warning', message: `the load of run ${runId} is committed, but the schema export was not written: ${messageOf(error)}` });
  }
}
