/**
 * Runs SQL on Amazon Athena and waits for it: StartQueryExecution, then GetQueryExecution polled with backoff until
 * the query leaves QUEUED/RUNNING, then (for `query`) GetQueryResults page by page. Every AWS call goes through
 * `withRetries`; a query Athena itself reports as failed for a system reason is submitted again, a bounded number of
 * times. A timeout or an aborted signal stops the query on Athena's side (StopQueryExecution) before throwing.
 */
import { randomUUID } from 'node:crypto';
import {
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  type AthenaClient,
  type QueryExecution,
} from '@aws-sdk/client-athena';
import { DestinationError, IngestError, InterruptedError, messageOf } from '../../errors.js';
import { awsErrorName, backoffMs, pause, withRetries } from './aws-errors.js';

const DEFAULT_POLL_MIN_MS = 200;
const DEFAULT_POLL_MAX_MS = 5_000;
const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;
/** Extra submissions of a query Athena failed for a retryable/system reason (3 submissions at most). */
const MAX_RESUBMITS = 2;
/** GetQueryResults' largest page. */
const PAGE_SIZE = 1000;
/** AthenaError.ErrorCategory values. */
const CATEGORY: Readonly<Record<number, string>> = { 1: 'system', 2: 'user', 3: 'other' };

/** Where and how queries run. */
export interface AthenaSettings {
  /** Athena workgroup (its enforced settings, if any, win over `outputLocation`). */
  workGroup: string;
  /** Data catalog the queries resolve names in (`AwsDataCatalog` for the account's Glue catalog). */
  catalog: string;
  /** s3://… where Athena writes each query's result and metadata files. */
  outputLocation: string;
  /** Default database for unqualified table names. */
  database?: string;
  /** First wait between two status polls (default 200 ms). */
  pollMinMs?: number;
  /** Longest wait between two status polls (default 5 s). */
  pollMaxMs?: number;
  /** How long a query may take, queueing and resubmissions included (default 30 min). */
  timeoutMs?: number;
  /** Replaces the real timer (tests pass `async () => {}`). */
  sleep?: (ms: number) => Promise<void>;
}

/** Per-call options of {@link AthenaQueryRunner.execute} and {@link AthenaQueryRunner.query}. */
export interface RunOptions {
  /** Database for this query (default: the settings' database). */
  database?: string;
  /** Aborting stops the query on Athena (StopQueryExecution) and throws InterruptedError. */
  signal?: AbortSignal;
  /** Overrides the settings' timeout for this query. */
  timeoutMs?: number;
}

/** A query that SUCCEEDED. */
export interface ExecuteResult {
  queryExecutionId: string;
  /** Statistics.DataScannedInBytes (what Athena bills), 0 when Athena reports none (DDL). */
  dataScannedBytes: number;
}

/** A query that SUCCEEDED, with its whole result set as Athena's strings. */
export interface QueryResult extends ExecuteResult {
  columns: string[];
  /** One array per row, in column order; SQL NULL is `null`. */
  rows: (string | null)[][];
}

/** The first line of a statement, for messages (at most 200 characters). */
export function sqlHead(sql: string): string {
  const line = sql.trim().split('\n', 1)[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** Runs statements on Athena, one at a time per call, and waits for each to finish. */
export class AthenaQueryRunner {
  /** Every SQL text given to `execute`/`query`, in call order (a resubmission is not repeated), for tests and logs. */
  readonly statements: string[] = [];

  constructor(
    private readonly client: AthenaClient,
    private readonly settings: AthenaSettings,
  ) {}

  /**
   * Submits `sql` to Athena (StartQueryExecution in the settings' workgroup, catalog and output location), polls
   * GetQueryExecution until it ends, and returns its id and the bytes it scanned. A FAILED or CANCELLED query throws
   * DestinationError with Athena's reason; a timeout stops it and throws DestinationError; an aborted signal stops it
   * and throws InterruptedError.
   */
  async execute(sql: string, opts: RunOptions = {}): Promise<ExecuteResult> {
    this.statements.push(sql);
    const execution = await this.run(sql, opts);
    return {
      queryExecutionId: execution.QueryExecutionId ?? '',
      dataScannedBytes: execution.Statistics?.DataScannedInBytes ?? 0,
    };
  }

  /**
   * Like {@link execute}, then reads the whole result with GetQueryResults (1000 rows a page, following NextToken).
   * Column names come from the result metadata; the header row Athena puts first for a SELECT is dropped.
   */
  async query(sql: string, opts: RunOptions = {}): Promise<QueryResult> {
    const done = await this.execute(sql, opts);
    try {
      return { ...done, ...(await this.results(done.queryExecutionId, opts.signal)) };
    } catch (error) {
      throw this.wrap(error, `reading the results of Athena query ${done.queryExecutionId}`, sql);
    }
  }

  private async run(sql: string, opts: RunOptions): Promise<QueryExecution> {
    const timeoutMs = opts.timeoutMs ?? this.settings.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    const { signal } = opts;
    for (let submission = 1; ; submission++) {
      if (signal?.aborted) throw new InterruptedError(`Athena query interrupted before it started: ${sqlHead(sql)}`);
      const id = await this.start(sql, opts);
      let execution: QueryExecution;
      try {
        execution = await this.waitFor(id, sql, deadline, timeoutMs, signal);
      } catch (error) {
        await this.stop(id);
        throw this.wrap(error, `waiting for Athena query ${id}`, sql);
      }
      const status = execution.Status ?? {};
      if (status.State === 'SUCCEEDED') return execution;
      const athenaError = status.AthenaError;
      const retryable = status.State === 'FAILED' && (athenaError?.Retryable === true || athenaError?.ErrorCategory === 1);
      if (retryable && submission <= MAX_RESUBMITS && Date.now() < deadline) {
        await pause(backoffMs(submission, 1_000, 10_000), signal, this.settings.sleep);
        continue;
      }
      const detail = [
        athenaError?.ErrorCategory !== undefined
          ? `category ${athenaError.ErrorCategory} (${CATEGORY[athenaError.ErrorCategory] ?? 'unknown'})`
          : undefined,
        athenaError?.ErrorType !== undefined ? `type ${athenaError.ErrorType}` : undefined,
        retryable ? `${submission} submissions` : undefined,
      ].filter(Boolean);
      throw new DestinationError(
        `Athena query ${id} ${status.State ?? 'ended in an unknown state'}` +
          `${detail.length > 0 ? ` [${detail.join(', ')}]` : ''}: ` +
          `${status.StateChangeReason ?? athenaError?.ErrorMessage ?? 'no reason given'} — SQL: ${sqlHead(sql)}`,
      );
    }
  }

  /** StartQueryExecution, with a fresh idempotency token so a retried request cannot start the query twice. */
  private async start(sql: string, opts: RunOptions): Promise<string> {
    const database = opts.database ?? this.settings.database;
    const token = randomUUID();
    try {
      const out = await withRetries(
        'Athena StartQueryExecution',
        () =>
          this.client.send(
            new StartQueryExecutionCommand({
              QueryString: sql,
              ClientRequestToken: token,
              WorkGroup: this.settings.workGroup,
              QueryExecutionContext: { ...(database !== undefined ? { Database: database } : {}), Catalog: this.settings.catalog },
              ResultConfiguration: { OutputLocation: this.settings.outputLocation },
            }),
          ),
        { sleep: this.settings.sleep, signal: opts.signal },
      );
      if (!out.QueryExecutionId) throw new DestinationError(`Athena StartQueryExecution returned no query id — SQL: ${sqlHead(sql)}`);
      return out.QueryExecutionId;
    } catch (error) {
      throw this.wrap(error, 'starting an Athena query', sql);
    }
  }

  /** Polls GetQueryExecution until the query is no longer QUEUED or RUNNING; throws on timeout or abort. */
  private async waitFor(id: string, sql: string, deadline: number, timeoutMs: number, signal?: AbortSignal): Promise<QueryExecution> {
    const minMs = this.settings.pollMinMs ?? DEFAULT_POLL_MIN_MS;
    const maxMs = Math.max(minMs, this.settings.pollMaxMs ?? DEFAULT_POLL_MAX_MS);
    for (let poll = 0; ; poll++) {
      if (signal?.aborted) throw new InterruptedError(`Athena query ${id} was interrupted and stopped — SQL: ${sqlHead(sql)}`);
      if (Date.now() >= deadline) {
        throw new DestinationError(`Athena query ${id} timed out after ${timeoutMs} ms and was stopped — SQL: ${sqlHead(sql)}`);
      }
      const out = await withRetries('Athena GetQueryExecution', () => this.client.send(new GetQueryExecutionCommand({ QueryExecutionId: id })), {
        sleep: this.settings.sleep,
        signal,
      });
      const execution = out.QueryExecution ?? {};
      const state = execution.Status?.State;
      if (state !== undefined && state !== 'QUEUED' && state !== 'RUNNING') return { ...execution, QueryExecutionId: id };
      const cap = Math.min(maxMs, minMs * 2 ** poll);
      const wait = Math.max(minMs, cap / 2 + (Math.random() * cap) / 2);
      await pause(Math.max(0, Math.min(wait, deadline - Date.now())), signal, this.settings.sleep);
    }
  }

  /** StopQueryExecution, best effort: a query that already ended, or a failed call, is ignored. */
  private async stop(id: string): Promise<void> {
    await this.client.send(new StopQueryExecutionCommand({ QueryExecutionId: id })).catch(() => undefined);
  }

  /** GetQueryResults, all pages. */
  private async results(id: string, signal?: AbortSignal): Promise<{ columns: string[]; rows: (string | null)[][] }> {
    let columns: string[] = [];
    const rows: (string | null)[][] = [];
    let nextToken: string | undefined;
    let first = true;
    do {
      const token = nextToken;
      const page = await withRetries(
        'Athena GetQueryResults',
        () => this.client.send(new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: PAGE_SIZE, NextToken: token })),
        { sleep: this.settings.sleep, signal },
      );
      if (first) columns = (page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? []).map((c) => c.Name ?? '');
      const pageRows = (page.ResultSet?.Rows ?? []).map((r) => (r.Data ?? []).map((d) => d.VarCharValue ?? null));
      const header = pageRows[0];
      const skip = first && header !== undefined && header.length === columns.length && header.every((v, i) => v === columns[i]);
      for (const row of skip ? pageRows.slice(1) : pageRows) rows.push(row);
      first = false;
      nextToken = page.NextToken;
    } while (nextToken);
    return { columns, rows };
  }

  /** Passes ingesta's own errors through; any other becomes a DestinationError saying what was being done. */
  private wrap(error: unknown, doing: string, sql: string): IngestError {
    if (error instanceof IngestError) return error;
    return new DestinationError(`Failed ${doing}: ${awsErrorName(error)}: ${messageOf(error)} — SQL: ${sqlHead(sql)}`, { cause: error });
  }
}
