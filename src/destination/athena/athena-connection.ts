import { AthenaClient } from '@aws-sdk/client-athena';
import { GlueClient } from '@aws-sdk/client-glue';
import { S3Client } from '@aws-sdk/client-s3';
import type { AthenaConfig } from '../../config/athena-config.js';
import { DestinationError } from '../../errors.js';
import { AthenaQueryRunner } from './athena-query-runner.js';
import { cleanUpLeftovers } from './athena-cleanup.js';
import type { ReconcileContext } from './athena-reconcile.js';
import { EMPTY_STATE, datasetKeys, type AthenaState, type DatasetKeys } from './athena-state.js';
import { DatasetLock } from './dataset-lock.js';
import type { DuckDBSettings } from '../../config/runtime-settings.js';
import { GlueCatalog } from './glue-catalog.js';
import { S3Store } from './s3-store.js';
import { awsClientSettings } from './aws-client-settings.js';

/** The AWS clients of a destination (tests pass their own). */
export interface AthenaClients {
  s3?: S3Client;
  athena?: AthenaClient;
  glue?: GlueClient;
}

/**
 * The open Athena dataset of a destination: its S3 layout, the S3, Glue and Athena clients, the dataset lock (taken on
 * open unless read-only, re-checked before every step that changes data, tables or state) and state.json as last read
 * or written (written with If-Match on its ETag). interrupt() stops running Athena queries.
 */
export class AthenaDataset {
  readonly keys: DatasetKeys;
  readonly s3: S3Store;
  readonly glue: GlueCatalog;
  readonly athena: AthenaQueryRunner;
  private currentState: AthenaState = EMPTY_STATE;
  private stateEtag: string | undefined;
  private readonly lock: DatasetLock;
  private readonly keepSupersededMs: number;
  /** Aborted by interrupt(): running Athena queries are stopped (StopQueryExecution). */
  private readonly abort = new AbortController();

  constructor(
    config: AthenaConfig,
    readonly dataset: string,
    readonly options: { readonly readOnly?: boolean; readonly runId?: string; readonly duckdb?: DuckDBSettings } = {},
    clients?: AthenaClients,
  ) {
    this.keys = datasetKeys(config.prefix, dataset);
    this.s3 = new S3Store(clients?.s3 ?? new S3Client({ ...awsClientSettings(config, config.s3Endpoint), forcePathStyle: config.s3PathStyle }), config.bucket);
    this.lock = new DatasetLock(this.s3, this.keys.lock, dataset, config.lockTiming);
    this.keepSupersededMs = config.keepSupersededMs;
    const catalogId = config.dataCatalog === 'AwsDataCatalog' ? undefined : config.dataCatalog;
    this.glue = new GlueCatalog(clients?.glue ?? new GlueClient(awsClientSettings(config, config.glueEndpoint)), catalogId);
    this.athena = new AthenaQueryRunner(clients?.athena ?? new AthenaClient(awsClientSettings(config, config.athenaEndpoint)), {
      workGroup: config.workGroup,
      catalog: config.dataCatalog,
      outputLocation: config.queryResultLocation,
      database: dataset,
    });
  }

  /** Takes the lock (unless read-only) and reads state.json. */
  async open(): Promise<void> {
    if (!this.options.readOnly) await this.lock.take(this.options.runId);
    const read = await this.s3.getJson<AthenaState>(this.keys.state);
    this.currentState = read?.value ?? EMPTY_STATE;
    this.stateEtag = read?.etag;
  }

  /** state.json as last read or written. */
  get state(): AthenaState {
    return this.currentState;
  }

  /** Writes state.json (fenced, If-Match on the ETag read or written last). */
  async writeState(next: AthenaState): Promise<void> {
    await this.fence('writing state.json');
    this.stateEtag = await this.s3.putJson(this.keys.state, next, this.stateEtag ? { etag: this.stateEtag } : 'absent');
    this.currentState = next;
  }

  /** Aborted when the run is interrupted: passed to every Athena query. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Before every step that changes data, tables or state: the lock is read again and must still be this run's. */
  fence(step: string): Promise<void> {
    return this.lock.check(step);
  }

  /** Before each table is published, and before the state: a run whose lock was taken over stops there. */
  assertLockHeld(): void {
    if (!this.lock.lost) return;
    throw new DestinationError(
      `This run lost its lock on ${this.dataset} (${this.lock.lost}): another run took it over, so this one publishes nothing more and writes ` +
        'no state (tables it already published stay readable; the other run, or the next one, brings them in line). Run again once the other has finished.',
    );
  }

  /**
   * Removes what earlier runs left (see athena-cleanup.ts): never a folder a Glue table may read. `mergeTables`: the
   * run's merge tables, whose batch folders are checked even before they are in state.json or Glue.
   */
  cleanUp(currentRun: string, mergeTables: readonly string[] = []): Promise<string[]> {
    return cleanUpLeftovers({
      dataset: this.dataset, keys: this.keys, state: this.state, glue: this.glue, s3: this.s3, currentRun, mergeTables,
      keepSupersededMs: this.keepSupersededMs, fence: (step) => this.fence(step),
    });
  }

  reconcileContext(runId = this.options.runId ?? 'adhoc'): ReconcileContext {
    return { dataset: this.dataset, keys: this.keys, s3: this.s3, glue: this.glue, athena: this.athena, signal: this.abort.signal, runId, fence: (step) => this.fence(step) };
  }

  interrupt(): void {
    this.abort.abort();
  }

  async close(): Promise<void> {
    await this.lock.release();
  }
}
