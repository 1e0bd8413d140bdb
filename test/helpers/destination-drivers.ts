import path from 'node:path';
import type { RunOptions } from '../../src/config/config.js';
import { expectAthenaEqualsSource } from './athena-compare.js';
import { duckColumnTypes, duckQuery, duckTable, expectTableEqualsSource } from './duckdb.js';
import { startLakehouse, type Lakehouse } from './lakehouse.js';
import type { TestDatabase } from './postgres.js';

/**
 * What the destination behaviour suite (test/integration/destination-behaviour.test.ts) needs of one destination:
 * how a run is pointed at it, how its tables are read back, and what a killed run leaves that the next run must wait
 * out. The suite is written once against this; each destination is one small driver.
 */
export interface DestinationDriver {
  readonly name: string;
  /** Creates the destination's storage under `dir` (a DuckDB file's folder; the S3/Glue/Athena stand-ins). */
  start(dir: string): Promise<void>;
  stop(): Promise<void>;
  /** run()'s options that select this destination. */
  options(): RunOptions;
  /** The CLI's arguments that select it (the same destination as options()). */
  cliArgs(): string[];
  /** The environment of a run (library hooks.env, or the CLI's), reading the source at `sourceUrl`. */
  env(sourceUrl: string): Record<string, string>;
  /** Expects `dataset.table` to equal the source table value by value, as a reader of this destination sees it. */
  expectEqualsSource(db: TestDatabase, dataset: string, table: string, key: string): Promise<number>;
  /** Rows of `dataset.table` matching a condition (SQL both DuckDB and Athena read alike). */
  count(dataset: string, table: string, where: string): Promise<number>;
  /** Column → type (lower case) of a destination table. */
  columnTypes(dataset: string, table: string): Promise<Record<string, string>>;
  /** Waits out what a run killed while holding the destination leaves (Athena: its S3 lock); variables for the next run. */
  afterKill(): Promise<Record<string, string>>;
}

/** The local destination: a DuckDB file. */
export function duckdbDriver(): DestinationDriver {
  let dir = '';
  const file = () => path.join(dir, 'behaviour.duckdb');
  return {
    name: 'DuckDB (--env local)',
    async start(d) {
      dir = d;
    },
    async stop() {},
    options: () => ({ env: 'local', duckdbPath: file() }),
    cliArgs: () => ['--env', 'local', '--duckdb-path', file()],
    env: (sourceUrl) => ({ DATABASE_URL: sourceUrl, INGESTA_PACKAGE_DIR: path.join(dir, 'packages') }),
    expectEqualsSource: (db, dataset, table, key) => expectTableEqualsSource(db, file(), dataset, table, [key]),
    async count(dataset, table, where) {
      const [row] = await duckQuery(file(), `SELECT count(*) AS n FROM ${duckTable(file(), dataset, table)} WHERE ${where}`);
      return Number(row!.n);
    },
    async columnTypes(dataset, table) {
      return Object.fromEntries(Object.entries(await duckColumnTypes(file(), dataset, table)).map(([c, t]) => [c, t.toLowerCase()]));
    },
    // the file lock dies with the process
    afterKill: async () => ({}),
  };
}

/** dev/prod: S3 (s3rver) + Glue + Athena (the executing stand-in), Parquet for full tables, Iceberg for merged ones. */
export function athenaDriver(): DestinationDriver {
  let lake: Lakehouse | undefined;
  const house = (): Lakehouse => {
    if (!lake) throw new Error('the lakehouse is not started');
    return lake;
  };
  return {
    name: 'S3 + Glue + Athena (--env dev, executing stand-in)',
    async start(d) {
      // in-process runs (run()) get the stand-ins' AWS_* settings through run()'s env hook, as the CLI's do
      lake = await startLakehouse(d);
    },
    async stop() {
      await lake?.stop();
    },
    options: () => ({ env: 'dev' }),
    cliArgs: () => ['--env', 'dev'],
    env: (sourceUrl) => house().env(sourceUrl),
    expectEqualsSource: (db, dataset, table, key) => expectAthenaEqualsSource(house(), db, dataset, table, key),
    async count(dataset, table, where) {
      const [row] = await house().athenaQuery(`SELECT count(*) AS n FROM "${dataset}"."${table}" WHERE ${where}`);
      return Number(row!.n);
    },
    async columnTypes(dataset, table) {
      const glue = house().aws.tables.get(`${dataset}.${table}`);
      return Object.fromEntries((glue?.columns ?? []).map((c) => [c.name, c.type.toLowerCase()]));
    },
    // the killed run's lock stays in S3, no longer renewed: the next run takes it over once it is silent for 1 s
    async afterKill() {
      await new Promise((r) => setTimeout(r, 1500));
      return { INGESTA_LOCK_STALE_AFTER: '1s' };
    },
  };
}

export const DESTINATION_DRIVERS: readonly (() => DestinationDriver)[] = [duckdbDriver, athenaDriver];
