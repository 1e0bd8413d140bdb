import { mkdirSync, rmSync } from 'node:fs';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DuckDBInstance } from './duckdb-module.js';
import { DEFAULT_DUCKDB_SETTINGS, type DuckDBSettings } from '../config/runtime-settings.js';
import { quoteLiteral } from '../sql/quote.js';
import { csvBufferSize } from './csv-read.js';
import { configureSession, memoryLimitSql } from './duckdb-settings.js';
import type { TypingSession } from './typed-relation.js';

/**
 * An in-memory DuckDB connection for the typing step of a destination that has no DuckDB file of its own (dev/prod):
 * the session settings of every DuckDB connection ingesta opens (UTC, memory limit, threads), and a spill folder of
 * its own (`tempDirectory`, removed on close) instead of DuckDB's `.tmp` in the working directory.
 */
export class NormalizeSession implements TypingSession {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    readonly memoryLimitBytes: number,
    /** read_csv's buffer size for the session's memory limit and threads (csvBufferSize). */
    readonly csvBufferBytes: number,
    private readonly tempDirectory: string,
    /** The size a table's Parquet files are split at (INGESTA_PARQUET_FILE_SIZE, as DuckDB spells a size). */
    readonly parquetFileSize: string,
  ) {}

  static async open(tempDirectory: string, settings?: DuckDBSettings): Promise<NormalizeSession> {
    mkdirSync(tempDirectory, { recursive: true });
    const instance = await DuckDBInstance.create(':memory:');
    try {
      const connection = await instance.connect();
      const { memoryLimitBytes, threads } = await configureSession(connection, settings);
      await connection.run(`SET temp_directory = ${quoteLiteral(tempDirectory)}`);
      return new NormalizeSession(instance, connection, memoryLimitBytes, csvBufferSize(memoryLimitBytes, threads), tempDirectory, settings?.parquetFileSize ?? DEFAULT_DUCKDB_SETTINGS.parquetFileSize);
    } catch (error) {
      instance.closeSync();
      rmSync(tempDirectory, { recursive: true, force: true });
      throw error;
    }
  }

  async query(sql: string): Promise<Record<string, unknown>[]> {
    return (await this.connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  }

  /** Runs a statement; returns the rows it changed (a COPY: the rows it wrote). */
  async run(sql: string): Promise<number> {
    return (await this.connection.run(sql)).rowsChanged;
  }

  async raiseMemoryLimit(bytes: number): Promise<void> {
    await this.connection.run(memoryLimitSql(Math.max(this.memoryLimitBytes, bytes)));
  }

  async restoreMemoryLimit(): Promise<void> {
    await this.connection.run(memoryLimitSql(this.memoryLimitBytes)).catch(() => undefined);
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
    rmSync(this.tempDirectory, { recursive: true, force: true });
  }
}
