import {
  AthenaClient,
  AthenaServiceException,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  InternalServerException,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  TooManyRequestsException,
  type GetQueryExecutionOutput,
  type QueryExecutionState,
  type Row,
} from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AthenaQueryRunner, sqlHead, type AthenaSettings } from '../../src/destination/athena/athena-query-runner.js';
import {
  awsErrorName,
  backoffMs,
  isAlreadyExists,
  isNotFound,
  isTransientAwsError,
  withRetries,
} from '../../src/destination/athena/aws-errors.js';
import { DestinationError, InterruptedError } from '../../src/errors.js';
import { rejection } from '../helpers/expect-error.js';

const athena = mockClient(AthenaClient);
const client = new AthenaClient({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'not-a-secret' } });

const SETTINGS: AthenaSettings = {
  workGroup: 'ingesta',
  catalog: 'AwsDataCatalog',
  outputLocation: 's3://results-bucket/athena/',
  database: 'raw_datavision_dev',
  pollMinMs: 100,
  pollMaxMs: 800,
  sleep: async () => {},
};

function execution(state: QueryExecutionState, status: Record<string, unknown> = {}, scanned?: number): GetQueryExecutionOutput {
  return {
    QueryExecution: {
      QueryExecutionId: 'q-1',
      Status: { State: state, ...status },
      ...(scanned !== undefined ? { Statistics: { DataScannedInBytes: scanned } } : {}),
    },
  };
}

const throttled = () => new TooManyRequestsException({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });
const accessDenied = () =>
  new AthenaServiceException({
    name: 'AccessDeniedException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
    message: 'User is not authorized to perform: athena:StartQueryExecution',
  });

beforeEach(() => {
  athena.reset();
  athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
  athena.on(StopQueryExecutionCommand).resolves({});
});

describe('AthenaQueryRunner.execute', () => {
  it('submits with workgroup, catalog, database and output location, then polls QUEUED → RUNNING → SUCCEEDED', async () => {
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce(execution('QUEUED'))
      .resolvesOnce(execution('RUNNING'))
      .resolvesOnce(execution('SUCCEEDED', {}, 4096));
    const waits: number[] = [];
    const runner = new AthenaQueryRunner(client, { ...SETTINGS, sleep: async (ms) => void waits.push(ms) });

    const result = await runner.execute('CREATE TABLE t AS SELECT 1');

    expect(result).toEqual({ queryExecutionId: 'q-1', dataScannedBytes: 4096 });
    const starts = athena.commandCalls(StartQueryExecutionCommand);
    expect(starts).toHaveLength(1);
    const input = starts[0]!.args[0].input;
    expect(input).toMatchObject({
      QueryString: 'CREATE TABLE t AS SELECT 1',
      WorkGroup: 'ingesta',
      QueryExecutionContext: { Database: 'raw_datavision_dev', Catalog: 'AwsDataCatalog' },
      ResultConfiguration: { OutputLocation: 's3://results-bucket/athena/' },
    });
    expect(input.ClientRequestToken?.length).toBeGreaterThanOrEqual(32);
    expect(athena.commandCalls(GetQueryExecutionCommand).map((c) => c.args[0].input)).toEqual([
      { QueryExecutionId: 'q-1' },
      { QueryExecutionId: 'q-1' },
      { QueryExecutionId: 'q-1' },
    ]);
    expect(waits).toHaveLength(2);
    for (const ms of waits) {
      expect(ms).toBeGreaterThanOrEqual(100);
      expect(ms).toBeLessThanOrEqual(800);
    }
    expect(athena.commandCalls(StopQueryExecutionCommand)).toHaveLength(0);
  });

  it('records every statement in order, uses the per-call database, and reports 0 bytes when Athena gives none', async () => {
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
    const runner = new AthenaQueryRunner(client, { ...SETTINGS, database: undefined });

    await runner.execute('CREATE DATABASE IF NOT EXISTS x');
    const second = await runner.execute('DROP TABLE IF EXISTS x.t', { database: 'x' });

    expect(runner.statements).toEqual(['CREATE DATABASE IF NOT EXISTS x', 'DROP TABLE IF EXISTS x.t']);
    expect(second.dataScannedBytes).toBe(0);
    const contexts = athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input.QueryExecutionContext);
    expect(contexts).toEqual([{ Catalog: 'AwsDataCatalog' }, { Database: 'x', Catalog: 'AwsDataCatalog' }]);
  });

  it('throws DestinationError with state, reason, error category/type, query id and the SQL head on FAILED', async () => {
    athena.on(GetQueryExecutionCommand).resolves(
      execution('FAILED', {
        StateChangeReason: "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved",
        AthenaError: { ErrorCategory: 2, ErrorType: 1006, Retryable: false },
      }),
    );
    const runner = new AthenaQueryRunner(client, SETTINGS);
    const sql = `SELECT nope FROM ${'x'.repeat(300)}\nWHERE 1 = 1`;

    const error = await rejection(runner.execute(sql));

    expect(error).toBeInstanceOf(DestinationError);
    expect(error.message).toContain('Athena query q-1 FAILED');
    expect(error.message).toContain("Column 'nope' cannot be resolved");
    expect(error.message).toContain('category 2 (user)');
    expect(error.message).toContain('type 1006');
    expect(error.message).toContain(sqlHead(sql));
    expect(error.message).not.toContain('WHERE 1 = 1');
    expect(sqlHead(sql)).toHaveLength(201); // 200 characters and an ellipsis
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(1); // a user error is not resubmitted
  });

  it('throws DestinationError on CANCELLED', async () => {
    athena.on(GetQueryExecutionCommand).resolves(execution('CANCELLED', { StateChangeReason: 'Query was cancelled by user' }));
    const error = await rejection(new AthenaQueryRunner(client, SETTINGS).execute('SELECT 1'));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error.message).toMatch(/q-1 CANCELLED.*cancelled by user.*SQL: SELECT 1/);
  });

  it('re-submits a FAILED query Athena marks retryable, with a fresh request token', async () => {
    athena
      .on(GetQueryExecutionCommand)
      .resolvesOnce(execution('FAILED', { StateChangeReason: 'Internal error', AthenaError: { ErrorCategory: 1, Retryable: true } }))
      .resolvesOnce(execution('SUCCEEDED', {}, 10));
    const runner = new AthenaQueryRunner(client, SETTINGS);

    await expect(runner.execute('INSERT INTO t SELECT 1')).resolves.toEqual({ queryExecutionId: 'q-1', dataScannedBytes: 10 });

    const tokens = athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input.ClientRequestToken);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).not.toBe(tokens[1]);
    expect(runner.statements).toEqual(['INSERT INTO t SELECT 1']);
  });

  it('re-submits a system-category failure at most twice, then fails', async () => {
    athena.on(GetQueryExecutionCommand).resolves(execution('FAILED', { StateChangeReason: 'GENERIC_INTERNAL_ERROR', AthenaError: { ErrorCategory: 1 } }));
    const error = await rejection(new AthenaQueryRunner(client, SETTINGS).execute('SELECT 1'));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error.message).toContain('3 submissions');
    expect(error.message).toContain('GENERIC_INTERNAL_ERROR');
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(3);
  });

  it('retries a throttled StartQueryExecution with the same request token, then succeeds', async () => {
    athena.on(StartQueryExecutionCommand).rejectsOnce(throttled()).rejectsOnce(throttled()).resolves({ QueryExecutionId: 'q-1' });
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));

    await expect(new AthenaQueryRunner(client, SETTINGS).execute('SELECT 1')).resolves.toMatchObject({ queryExecutionId: 'q-1' });

    const tokens = athena.commandCalls(StartQueryExecutionCommand).map((c) => c.args[0].input.ClientRequestToken);
    expect(tokens).toHaveLength(3);
    expect(new Set(tokens).size).toBe(1);
  });

  it('throws DestinationError once the retry budget is spent', async () => {
    const last = throttled();
    athena.on(StartQueryExecutionCommand).rejects(last);

    const error = await rejection(new AthenaQueryRunner(client, SETTINGS).execute('SELECT 1'));

    expect(error).toBeInstanceOf(DestinationError);
    expect(error.message).toBe('Athena StartQueryExecution failed after 5 attempts: TooManyRequestsException: Rate exceeded');
    expect(error.cause).toBe(last);
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(5);
    expect(athena.commandCalls(GetQueryExecutionCommand)).toHaveLength(0);
  });

  it('does not retry a terminal AccessDeniedException', async () => {
    athena.on(StartQueryExecutionCommand).rejects(accessDenied());

    const error = await rejection(new AthenaQueryRunner(client, SETTINGS).execute('SELECT 1'));

    expect(error).toBeInstanceOf(DestinationError);
    expect(error.message).toMatch(/AccessDeniedException: User is not authorized.*SQL: SELECT 1/);
    expect(error.message).not.toContain('not-a-secret');
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(1);
  });

  describe('timeout', () => {
    beforeEach(() => vi.useFakeTimers({ toFake: ['Date'] }));
    afterEach(() => vi.useRealTimers());

    it('stops the query and throws DestinationError when it runs past timeoutMs', async () => {
      athena.on(GetQueryExecutionCommand).resolves(execution('RUNNING'));
      const sleep = async (ms: number) => void vi.setSystemTime(Date.now() + ms);
      const runner = new AthenaQueryRunner(client, { ...SETTINGS, sleep, timeoutMs: 60_000 });

      const error = await rejection(runner.execute('SELECT count(*) FROM big', { timeoutMs: 2_000 }));

      expect(error).toBeInstanceOf(DestinationError);
      expect(error.message).toMatch(/q-1 timed out after 2000 ms.*SQL: SELECT count\(\*\) FROM big/);
      expect(athena.commandCalls(StopQueryExecutionCommand).map((c) => c.args[0].input)).toEqual([{ QueryExecutionId: 'q-1' }]);
      const polls = athena.commandCalls(GetQueryExecutionCommand).length;
      expect(polls).toBeGreaterThan(2);
      expect(polls).toBeLessThan(20);
    });
  });

  it('stops the query and throws InterruptedError when the signal aborts', async () => {
    const controller = new AbortController();
    athena.on(GetQueryExecutionCommand).callsFake(() => {
      controller.abort();
      return execution('RUNNING');
    });
    athena.on(StopQueryExecutionCommand).rejects(new InternalServerException({ message: 'boom', $metadata: {} })); // best effort

    const error = await rejection(new AthenaQueryRunner(client, SETTINGS).execute('SELECT 1', { signal: controller.signal }));

    expect(error).toBeInstanceOf(InterruptedError);
    expect(error.message).toContain('q-1');
    expect(athena.commandCalls(StopQueryExecutionCommand).map((c) => c.args[0].input)).toEqual([{ QueryExecutionId: 'q-1' }]);
  });

  it('starts nothing when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await rejection(new AthenaQueryRunner(client, SETTINGS).execute('SELECT 1', { signal: controller.signal }));
    expect(error).toBeInstanceOf(InterruptedError);
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(0);
  });
});

describe('AthenaQueryRunner.query', () => {
  const data = (...values: (string | undefined)[]): Row => ({ Data: values.map((v) => (v === undefined ? {} : { VarCharValue: v })) });
  const metadata = { ColumnInfo: [{ Name: 'id', Type: 'bigint' }, { Name: 'name', Type: 'varchar' }] };

  it('reads 3 pages with NextToken, drops the header row, and maps a missing VarCharValue to null', async () => {
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED', {}, 123));
    athena
      .on(GetQueryResultsCommand)
      .resolvesOnce({ ResultSet: { ResultSetMetadata: metadata, Rows: [data('id', 'name'), data('1', 'a'), data('2', undefined)] }, NextToken: 'p2' })
      .resolvesOnce({ ResultSet: { ResultSetMetadata: metadata, Rows: [data('3', ''), data('id', 'name')] }, NextToken: 'p3' })
      .resolvesOnce({ ResultSet: { ResultSetMetadata: metadata, Rows: [data('5', 'e')] } });

    const result = await new AthenaQueryRunner(client, SETTINGS).query('SELECT id, name FROM t');

    expect(result).toEqual({
      queryExecutionId: 'q-1',
      dataScannedBytes: 123,
      columns: ['id', 'name'],
      // only the first row of the first page is the header; a later row equal to it is data
      rows: [['1', 'a'], ['2', null], ['3', ''], ['id', 'name'], ['5', 'e']],
    });
    expect(athena.commandCalls(GetQueryResultsCommand).map((c) => c.args[0].input)).toEqual([
      { QueryExecutionId: 'q-1', MaxResults: 1000, NextToken: undefined },
      { QueryExecutionId: 'q-1', MaxResults: 1000, NextToken: 'p2' },
      { QueryExecutionId: 'q-1', MaxResults: 1000, NextToken: 'p3' },
    ]);
  });

  it('keeps a first row that is not a header (DDL output such as SHOW TABLES)', async () => {
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
    athena.on(GetQueryResultsCommand).resolves({
      ResultSet: { ResultSetMetadata: { ColumnInfo: [{ Name: 'tab_name', Type: 'string' }] }, Rows: [data('accounts'), data('contents')] },
    });
    const result = await new AthenaQueryRunner(client, SETTINGS).query('SHOW TABLES IN raw');
    expect(result.rows).toEqual([['accounts'], ['contents']]);
  });

  it('returns no rows for an empty SELECT (header only)', async () => {
    athena.on(GetQueryExecutionCommand).resolves(execution('SUCCEEDED'));
    athena.on(GetQueryResultsCommand).resolves({ ResultSet: { ResultSetMetadata: metadata, Rows: [data('id', 'name')] } });
    const result = await new AthenaQueryRunner(client, SETTINGS).query('SELECT id, name FROM t WHERE false');
    expect(result).toMatchObject({ columns: ['id', 'name'], rows: [] });
  });
});

describe('aws-errors', () => {
  const err = (name: string, extra: Record<string, unknown> = {}) => Object.assign(new Error('m'), { name }, extra);

  it('classifies throttling, 5xx/429, dropped connections and $retryable as transient', () => {
    for (const name of ['ThrottlingException', 'TooManyRequestsException', 'SlowDown', 'RequestLimitExceeded', 'ServiceUnavailable', 'InternalServerException', 'InternalFailure', 'RequestTimeout']) {
      expect(isTransientAwsError(err(name)), name).toBe(true);
    }
    for (const code of ['ECONNRESET', 'ETIMEDOUT', 'EPIPE']) expect(isTransientAwsError(Object.assign(new Error('x'), { code })), code).toBe(true);
    expect(isTransientAwsError(new Error('socket hang up'))).toBe(true);
    for (const status of [429, 500, 502, 503, 504]) expect(isTransientAwsError(err('Whatever', { $metadata: { httpStatusCode: status } }))).toBe(true);
    expect(isTransientAwsError(err('Whatever', { $retryable: { throttling: false } }))).toBe(true);
  });

  it('classifies access, validation and not-found errors as terminal', () => {
    expect(isTransientAwsError(accessDenied())).toBe(false);
    expect(isTransientAwsError(err('InvalidRequestException', { $metadata: { httpStatusCode: 400 } }))).toBe(false);
    expect(isTransientAwsError(err('EntityNotFoundException', { $metadata: { httpStatusCode: 400 } }))).toBe(false);
    expect(isTransientAwsError(undefined)).toBe(false);
    expect(isTransientAwsError('ThrottlingException')).toBe(false);
  });

  it('recognises not-found and already-exists, and names errors', () => {
    expect(isNotFound(err('EntityNotFoundException'))).toBe(true);
    expect(isNotFound(err('NoSuchKey'))).toBe(true);
    expect(isNotFound(err('NotFound'))).toBe(true);
    expect(isNotFound(err('Unknown', { $metadata: { httpStatusCode: 404 } }))).toBe(true);
    expect(isNotFound(err('AccessDeniedException'))).toBe(false);
    expect(isAlreadyExists(err('AlreadyExistsException'))).toBe(true);
    expect(isAlreadyExists(err('EntityNotFoundException'))).toBe(false);
    expect(awsErrorName(throttled())).toBe('TooManyRequestsException');
    expect(awsErrorName(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe('ECONNRESET');
    expect(awsErrorName(new Error('plain'))).toBe('Error');
  });

  it('backs off with full jitter, capped at maxMs', () => {
    for (let retry = 1; retry <= 20; retry++) {
      const ms = backoffMs(retry, 200, 10_000);
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThanOrEqual(Math.min(10_000, 200 * 2 ** (retry - 1)));
    }
  });

  it('withRetries honours attempts, rethrows terminal errors at once, and stops on abort', async () => {
    const sleep = vi.fn(async () => {});
    let calls = 0;
    const always = () => {
      calls++;
      return Promise.reject(throttled());
    };
    await expect(withRetries('X', always, { attempts: 3, sleep })).rejects.toThrow('X failed after 3 attempts: TooManyRequestsException: Rate exceeded');
    expect(calls).toBe(3);
    expect(sleep).toHaveBeenCalledTimes(2);

    const terminal = accessDenied();
    await expect(withRetries('Y', () => Promise.reject(terminal), { sleep })).rejects.toBe(terminal);

    const controller = new AbortController();
    const aborting = () => {
      controller.abort();
      return Promise.reject(throttled());
    };
    await expect(withRetries('Z', aborting, { sleep, signal: controller.signal })).rejects.toBeInstanceOf(InterruptedError);
  });
});
