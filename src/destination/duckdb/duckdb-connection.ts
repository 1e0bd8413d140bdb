import { closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DuckDBInstance } from '../../normalize/duckdb-module.js';
import { asTypedError, DataError, DestinationError, messageOf } from '../../errors.js';
import { DatasetRef } from './duckdb-sql.js';
import { csvBufferSize } from '../../normalize/csv-read.js';
import { configureSession, memoryLimitSql } from '../../normalize/duckdb-settings.js';
import type { DuckDBSettings } from '../../config/runtime-settings.js';

export type Value = string | number | bigint | boolean | null;

/**
 * The open DuckDB file of a destination: the file (and its lock: DuckDB refuses a second writer), the session settings,
 * the main connection that holds the load transaction, and a second one for key reconciliation. A file this run
 * created is removed again on close if nothing was committed to it (bad input leaves nothing behind).
 */
export class DuckDBFile {
  private instance: DuckDBInstance | undefined;
  private connection: DuckDBConnection | undefined;
  /** Second connection for key reconciliation while the load transaction is open on the first. */
  private reader: DuckDBConnection | undefined;
  private diffing: Promise<unknown> = Promise.resolve();
  private datasetRef: DatasetRef | undefined;
  /** Whether open() created the file, and whether a load was committed to it since. */
  private createdFile = false;
  private committed = false;
  /** The configured memory limit in bytes, as DuckDB applies it (read back when the session is set up). */
  memoryLimitBytes = 128 * 2 ** 20;
  /** read_csv's buffer size for the configured memory limit and threads (csvBufferSize). */
  csvBufferBytes: number | undefined;
  /** DuckDB's threads as configured (restored after a commit on one thread). */
  private threads = 1;

  constructor(
    readonly file: string,
    readonly dataset: string,
    private readonly options: { readonly readOnly?: boolean; readonly settings?: DuckDBSettings } = {},
  ) {}

  async open(): Promise<void> {
    if (this.options.readOnly && !existsSync(this.file)) {
      throw new DestinationError(`The DuckDB file ${this.file} does not exist: nothing has been loaded there yet. Run a load first, or check --duckdb-path.`);
    }
    // a file this run creates is removed again if nothing is committed to it (bad input leaves nothing behind)
    this.createdFile = !this.options.readOnly && this.file !== ':memory:' && !existsSync(this.file);
    if (this.file !== ':memory:') refuseForeignFile(this.file);
    try {
      if (!this.options.readOnly && this.file !== ':memory:') mkdirSync(path.dirname(path.resolve(this.file)), { recursive: true });
      // never download an extension at run time (DuckDB would fetch one to open a file in another format)
      const config: Record<string, string> = { autoinstall_known_extensions: 'false' };
      if (this.options.readOnly) config.access_mode = 'READ_ONLY';
      this.instance = await DuckDBInstance.create(this.file, config);
      this.connection = await this.instance.connect();
      const limits = await configureSession(this.connection, this.options.settings);
      this.memoryLimitBytes = limits.memoryLimitBytes;
      this.csvBufferBytes = csvBufferSize(limits.memoryLimitBytes, limits.threads);
      this.threads = limits.threads;
      // DuckDB tracks how far a statement is only with its progress bar on; nothing is printed (statementProgress)
      await this.connection.run('SET enable_progress_bar = true; SET enable_progress_bar_print = false');
      const db = await this.connection.runAndReadAll('SELECT current_database() AS db');
      this.datasetRef = new DatasetRef(String(db.getRowObjectsJS()[0]!.db), this.dataset);
    } catch (cause) {
      const message = messageOf(cause);
      // a memory limit too small to open the file (≈ 1 MB and below): exit 4 naming the variable, not a path problem
      const outOfMemory = asTypedError(cause);
      if (outOfMemory instanceof DataError) throw outOfMemory;
      if (/lock/i.test(message)) {
        throw new DestinationError(
          `The DuckDB file ${this.file} is in use by another process (${message.replace(/^IO Error: /, '').split('\n')[0]}). ` +
            'Another ingesta run or a DuckDB client holds it; wait for it to finish or close it, then run again.',
          { cause },
        );
      }
      if (/not a valid DuckDB database file/i.test(message)) {
        throw new DestinationError(
          `The file ${this.file} is not a DuckDB database (it exists, but is empty or another kind of file). ` +
            'Point --duckdb-path (DUCKDB_PATH) at a DuckDB file, or at a path that does not exist yet for a new one; the file was left as it was.',
          { cause },
        );
      }
      // DuckDB's messages may run over several lines (links, hints): the first says what failed
      const first = message.split('\n')[0]!.trim().replace(/[.!]+$/, '');
      throw new DestinationError(`Cannot open the DuckDB file ${this.file}: ${first}. Check the path (--duckdb-path / DUCKDB_PATH) and that it is writable.`, { cause });
    }
  }

  /** Whether a connection is open. */
  get isOpen(): boolean {
    return this.connection !== undefined;
  }

  /** The main connection (the load transaction's). */
  get conn(): DuckDBConnection {
    if (!this.connection) throw new Error('DuckDB destination used before open()');
    return this.connection;
  }

  get ref(): DatasetRef {
    if (!this.datasetRef) throw new Error('DuckDB destination used before open()');
    return this.datasetRef;
  }

  async query(sql: string, values?: Value[]): Promise<Record<string, unknown>[]> {
    const reader = await this.conn.runAndReadAll(sql, values as never);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  }

  async run(sql: string, values?: Value[]): Promise<void> {
    await this.conn.run(sql, values as never);
  }

  async tableExists(table: string): Promise<boolean> {
    const rows = await this.query('SELECT 1 FROM duckdb_tables() WHERE database_name = $1 AND schema_name = $2 AND table_name = $3', [this.ref.database, this.dataset, table]);
    return rows.length > 0;
  }

  async existingTables(): Promise<Set<string>> {
    const rows = await this.query('SELECT table_name FROM duckdb_tables() WHERE database_name = $1 AND schema_name = $2', [this.ref.database, this.dataset]);
    return new Set(rows.map((r) => String(r.table_name)));
  }

  /** Column name → type of a dataset table, in column order; empty when the table does not exist. */
  async describeTable(table: string): Promise<Map<string, string>> {
    const rows = await this.query(
      'SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = $1 AND schema_name = $2 AND table_name = $3 ORDER BY column_index',
      [this.ref.database, this.dataset, table],
    );
    return new Map(rows.map((r) => [String(r.column_name), String(r.data_type)]));
  }

  /**
   * Commits the load transaction with DuckDB on one thread: the commit writes every table of the load to the file,
   * compressing row groups in parallel, and each thread doing so holds memory outside the buffer pool (a hard-data
   * full load's peak RSS was its commit). Then the configured threads again. Out of memory (a limit the reads fit but
   * the commit does not) is a DataError naming INGESTA_DUCKDB_MEMORY_LIMIT; DuckDB has rolled the transaction back.
   */
  async commitOnOneThread(): Promise<void> {
    await this.conn.run('SET threads = 1');
    try {
      await this.conn.run('COMMIT');
    } catch (cause) {
      // the commit's failure is the one to report; the threads are restored for the next attempt as far as possible
      await this.conn.run(`SET threads = ${this.threads}`).catch(() => undefined);
      if (!/out of memory|could not allocate/i.test(messageOf(cause))) throw cause;
      throw new DataError(
        `Committing the load into DuckDB ran out of memory within the ${Math.round(this.memoryLimitBytes / 2 ** 20)} MiB memory limit. ` +
          'Raise INGESTA_DUCKDB_MEMORY_LIMIT. Nothing was committed; the previous data and state are intact.',
        { cause },
      );
    }
    // committed: the file stays whatever follows (a failing SET below is an error of its own, not a lost load)
    this.markCommitted();
    await this.conn.run(`SET threads = ${this.threads}`);
  }

  /** Raises the session's memory limit to at least `bytes` (for one table's read; see restoreMemoryLimit). */
  async raiseMemoryLimit(bytes: number): Promise<void> {
    await this.conn.run(memoryLimitSql(Math.max(this.memoryLimitBytes, bytes)));
  }

  async restoreMemoryLimit(): Promise<void> {
    await this.conn.run(memoryLimitSql(this.memoryLimitBytes)).catch(() => undefined);
  }

  /**
   * How far the main connection's current statement is, as DuckDB estimates it (0–99 %), for the heartbeat of a long
   * load or commit; null when no statement runs or DuckDB cannot tell yet (it starts tracking after 2 s). Its own
   * count is not rows (a CSV read counts bytes), so no row count is derived from it.
   */
  statementProgress(): { percent: number } | null {
    const p = this.connection?.progress;
    if (!p || p.percentage < 0) return null;
    return { percent: Math.min(99, Math.floor(p.percentage)) };
  }

  /** A load was committed: the file stays on close. */
  markCommitted(): void {
    this.committed = true;
  }

  /** Readers on several source connections reconcile tables at the same time: one at a time on the one connection. */
  onReader<T>(work: (reader: DuckDBConnection) => Promise<T>): Promise<T> {
    if (!this.instance) throw new Error('DuckDB destination used before open()');
    const instance = this.instance;
    const turn = this.diffing.then(async () => {
      if (!this.reader) {
        this.reader = await instance.connect();
        await this.reader.run("SET TimeZone = 'UTC'");
      }
      return work(this.reader);
    });
    this.diffing = turn.catch(() => undefined);
    return turn;
  }

  /**
   * Closes the file and opens it again with the same settings, keeping what open() knew (a file this run created is
   * still removed on close if nothing is committed). Before a load starts over: a transaction rolled back after
   * DuckDB ran out of memory in a DELETE can leave its deletion marks on the rows it had reached (DuckDB 1.5.6), and
   * the next transaction's DELETE of those rows then fails with "Conflict on tuple deletion!"; a new instance reads
   * the file as last committed. Not while a reconciliation reads (retries start after extraction).
   */
  async reopen(): Promise<void> {
    // (an in-memory database would lose what it holds: nothing was ever written there that a retry could meet)
    if (this.file === ':memory:') return;
    const created = this.createdFile;
    this.closeInstance();
    await this.open();
    this.createdFile = created;
  }

  interrupt(): void {
    this.connection?.interrupt();
    this.reader?.interrupt();
  }

  close(): void {
    this.closeInstance();
    if (this.createdFile && !this.committed) {
      for (const f of [this.file, `${this.file}.wal`]) rmSync(f, { force: true });
      this.createdFile = false;
    }
  }

  /** Closes both connections and the instance (the file lock with it). */
  private closeInstance(): void {
    this.reader?.closeSync();
    this.reader = undefined;
    this.connection?.closeSync();
    this.instance?.closeSync();
    this.connection = undefined;
    this.instance = undefined;
  }
}

/**
 * Refuses, before DuckDB opens it, a file that holds another database format DuckDB would otherwise try to open
 * through an extension (a SQLite file: DuckDB downloads the sqlite extension, and with it would attach the SQLite file
 * as the destination). A missing, empty or unreadable file is left to DuckDB's own checks.
 */
function refuseForeignFile(file: string): void {
  let header: Buffer;
  try {
    if (!statSync(file).isFile()) return;
    const fd = openSync(file, 'r');
    try {
      header = Buffer.alloc(16);
      readSync(fd, header, 0, 16, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return;
  }
  if (header.toString('latin1') === 'SQLite format 3\0') {
    throw new DestinationError(
      `The file ${file} is a SQLite database, not a DuckDB file. ` +
        'Point --duckdb-path (DUCKDB_PATH) at a DuckDB file, or at a path that does not exist yet for a new one; the file was left as it was.',
    );
  }
}
