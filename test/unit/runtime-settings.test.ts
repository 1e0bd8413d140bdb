import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/config.js';
import { createDestination } from '../../src/destination/create-destination.js';
import { DuckDBFile } from '../../src/destination/duckdb/duckdb-connection.js';
import { csvBufferSize } from '../../src/normalize/csv-read.js';
import { ConfigError } from '../../src/errors.js';
import { run } from '../../src/index.js';
import { configError, rejection } from '../helpers/expect-error.js';

const ATHENA_ENV = { BUCKET_URL: 's3://lake/raw', QUERY_RESULT_BUCKET: 's3://results/', REGION_NAME: 'eu-west-1' };

describe('settings from the environment, carried by RunConfig', () => {
  let dir: string;
  const saved = { ...process.env };
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ingesta-settings-'));
    // values the process environment holds must not leak into a run given its own env
    process.env.INGESTA_DUCKDB_MEMORY_LIMIT = 'not-a-size';
    process.env.INGESTA_DUCKDB_THREADS = 'many';
    process.env.INGESTA_LOCK_STALE_AFTER = 'soon';
  });
  afterEach(() => {
    process.env = { ...saved };
    rmSync(dir, { recursive: true, force: true });
  });

  it('INGESTA_DUCKDB_MEMORY_LIMIT and INGESTA_DUCKDB_THREADS given through env reach the DuckDB session', async () => {
    const config = resolveConfig({ env: 'local', duckdbPath: path.join(dir, 'x.duckdb') }, { INGESTA_DUCKDB_MEMORY_LIMIT: '300MB', INGESTA_DUCKDB_THREADS: '1' });
    expect(config.duckdb).toEqual({ memoryLimit: '300MB', threads: 1, parquetFileSize: '256MB' });
    expect(Object.isFrozen(config.duckdb)).toBe(true);
    const destination = await createDestination(config, 'ds');
    await destination.open();
    try {
      // the destination's own session, through its public query target
      const [row] = await destination.qualityTarget().query("SELECT current_setting('memory_limit') AS m, current_setting('threads')::INTEGER AS t");
      // DuckDB shows 300 MB (decimal) as 286.1 MiB
      expect(String(row!.m)).toMatch(/^286\.\d+ MiB$/);
      expect(Number(row!.t)).toBe(1);
    } finally {
      await destination.close();
    }
  });

  it('the load transaction commits on one DuckDB thread, then the configured threads again (the commit was a hard load\'s peak RSS)', async () => {
    const file = new DuckDBFile(path.join(dir, 'commit.duckdb'), 'ds', { settings: { memoryLimit: '128MB', threads: 2, parquetFileSize: '256MB' } });
    await file.open();
    try {
      expect(file.csvBufferBytes).toBe(csvBufferSize(file.memoryLimitBytes, 2));
      await file.run('BEGIN TRANSACTION');
      await file.run('CREATE TABLE t AS SELECT range AS n FROM range(1000)');
      await file.commitOnOneThread();
      expect(await file.query("SELECT current_setting('threads')::INTEGER AS t, (SELECT count(*) FROM t)::INTEGER AS n")).toEqual([{ t: 2, n: 1000 }]);
    } finally {
      file.close();
    }
  });

  it('defaults when unset: 128MB, DuckDB\'s own thread count', () => {
    expect(resolveConfig({ env: 'local' }, {}).duckdb).toEqual({ memoryLimit: '128MB', threads: undefined, parquetFileSize: '256MB' });
  });

  it('run() refuses an invalid INGESTA_DUCKDB_MEMORY_LIMIT from its env with a ConfigError naming it, before opening anything', async () => {
    const file = path.join(dir, 'never.duckdb');
    const error = await rejection(run({ env: 'local', duckdbPath: file }, { env: { INGESTA_DUCKDB_MEMORY_LIMIT: 'lots' } }));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    expect(error.message).toMatch(/^INGESTA_DUCKDB_MEMORY_LIMIT must be a size such as 128MB.*not "lots"/);
    expect(existsSync(file)).toBe(false);
    expect(configError(() => resolveConfig({}, { INGESTA_DUCKDB_THREADS: '0' })).message).toMatch(/INGESTA_DUCKDB_THREADS must be at least 1 thread/);
  });

  it('INGESTA_LOCK_STALE_AFTER and INGESTA_KEEP_SUPERSEDED given through env are the Athena destination\'s timing', async () => {
    const config = resolveConfig({ env: 'dev' }, { ...ATHENA_ENV, INGESTA_LOCK_STALE_AFTER: '20s', INGESTA_KEEP_SUPERSEDED: '2h', AWS_ENDPOINT_URL: 'http://127.0.0.1:9' });
    expect(config.athena!.lockTiming).toEqual({ staleMs: 20_000, heartbeatMs: 2_000 });
    expect(config.athena!.keepSupersededMs).toBe(7_200_000);
    expect(config.athena!.s3Endpoint).toBe('http://127.0.0.1:9');
    const error = await rejection(run({ env: 'dev' }, { env: { ...ATHENA_ENV, INGESTA_LOCK_STALE_AFTER: 'soon' } }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(/INGESTA_LOCK_STALE_AFTER/);
  });
});
