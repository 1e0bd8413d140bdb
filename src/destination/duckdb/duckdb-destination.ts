import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { DataError, DestinationError, messageOf } from '../../errors.js';
import type { Manifest, PackageTable } from '../../package/load-package.js';
import { quoteIdent } from '../../sql/quote.js';
import { crashPoint } from '../../faults/crash-points.js';
import type { Destination, DestinationCapabilities, TableLoadResult, TableState } from '../destination.js';
import {
  DatasetRef, LOADS_TABLE, RUNS_TABLE, STATE_TABLE, castList, columnList, createTableSql, keyJoin, metadataDdl, readCsvSql,
} from './duckdb-sql.js';

export const DUCKDB_CAPABILITIES: DestinationCapabilities = Object.freeze({
  transactional: true,
  mergeStrategy: 'delete-insert',
  timestampPrecision: 'microsecond',
  caseSensitiveIdentifiers: false,
});

type Value = string | number | bigint | boolean | null;

/** DuckDB's spellings of a type, reduced to one, to compare a declared column type with an existing one. */
function normalizeType(type: string): string {
  return type
    .toUpperCase()
    .replace(/\s+/g, ' ')
    .replace('TIMESTAMP WITH TIME ZONE', 'TIMESTAMPTZ')
    .replace('TIME WITH TIME ZONE', 'TIMETZ')
    .replace(/^REAL$/, 'FLOAT')
    .replace(/^FLOAT4$/, 'FLOAT');
}

/** A local DuckDB file: one transaction commits data, cursors and the load record together. */
export class DuckDBDestination implements Destination {
  readonly capabilities = DUCKDB_CAPABILITIES;
  private instance: DuckDBInstance | undefined;
  private connection: DuckDBConnection | undefined;
  private datasetRef: DatasetRef | undefined;

  constructor(
    private readonly file: string,
    private readonly dataset: string,
  ) {}

  async open(): Promise<void> {
    try {
      if (this.file !== ':memory:') mkdirSync(path.dirname(path.resolve(this.file)), { recursive: true });
      this.instance = await DuckDBInstance.create(this.file);
      this.connection = await this.instance.connect();
      await this.connection.run("SET TimeZone = 'UTC'");
      const db = await this.connection.runAndReadAll('SELECT current_database() AS db');
      this.datasetRef = new DatasetRef(String(db.getRowObjectsJS()[0]!.db), this.dataset);
    } catch (cause) {
      const message = messageOf(cause);
      if (/lock/i.test(message)) {
        throw new DestinationError(
          `The DuckDB file ${this.file} is in use by another process (${message.replace(/^IO Error: /, '').split('\n')[0]}). ` +
            'Another ingesta run or a DuckDB client holds it; wait for it to finish or close it, then run again.',
          { cause },
        );
      }
      throw new DestinationError(`Cannot open the DuckDB file ${this.file}: ${message}. Check the path (--duckdb-path / DUCKDB_PATH) and that it is writable.`, { cause });
    }
  }

  private get conn(): DuckDBConnection {
    if (!this.connection) throw new Error('DuckDB destination used before open()');
    return this.connection;
  }

  private get ref(): DatasetRef {
    if (!this.datasetRef) throw new Error('DuckDB destination used before open()');
    return this.datasetRef;
  }

  private async query(sql: string, values?: Value[]): Promise<Record<string, unknown>[]> {
    const reader = await this.conn.runAndReadAll(sql, values as never);
    return reader.getRowObjectsJS() as Record<string, unknown>[];
  }

  private async tableExists(table: string): Promise<boolean> {
    const rows = await this.query('SELECT 1 FROM duckdb_tables() WHERE database_name = $1 AND schema_name = $2 AND table_name = $3', [this.ref.database, this.dataset, table]);
    return rows.length > 0;
  }

  async readState(): Promise<Map<string, TableState>> {
    const state = new Map<string, TableState>();
    if (!(await this.tableExists(STATE_TABLE))) return state;
    const rows = await this.query(`SELECT table_name, cursor_column, cursor_value, run_id FROM ${this.ref.table(STATE_TABLE)}`);
    for (const r of rows) {
      state.set(String(r.table_name), {
        table: String(r.table_name),
        cursorColumn: String(r.cursor_column),
        cursorValue: r.cursor_value == null ? null : String(r.cursor_value),
        runId: String(r.run_id),
      });
    }
    return state;
  }

  async existingTables(): Promise<Set<string>> {
    const rows = await this.query('SELECT table_name FROM duckdb_tables() WHERE database_name = $1 AND schema_name = $2', [this.ref.database, this.dataset]);
    return new Set(rows.map((r) => String(r.table_name)));
  }

  async isRunLoaded(runId: string): Promise<boolean> {
    if (!(await this.tableExists(RUNS_TABLE))) return false;
    const rows = await this.query(`SELECT 1 FROM ${this.ref.table(RUNS_TABLE)} WHERE run_id = $1 AND status = 'loaded'`, [runId]);
    return rows.length > 0;
  }

  async loadPackage(manifest: Manifest, packageDir: string, onTable?: (result: TableLoadResult) => void): Promise<TableLoadResult[]> {
    const results: TableLoadResult[] = [];
    await this.conn.run('BEGIN TRANSACTION');
    try {
      for (const sql of metadataDdl(this.ref)) await this.conn.run(sql);
      for (const table of manifest.tables) {
        const result = await this.loadTable(manifest, table, path.join(packageDir, table.file));
        results.push(result);
      }
      await this.conn.run(
        `INSERT INTO ${this.ref.table(RUNS_TABLE)} VALUES ($1, $2, 'loaded', $3::VARCHAR[], $4::TIMESTAMPTZ, $5::TIMESTAMPTZ, now(), NULL)`,
        [manifest.runId, manifest.env, `[${manifest.tables.map((t) => JSON.stringify(t.name)).join(',')}]`, manifest.snapshotAt ?? null, manifest.createdAt] as never,
      );
      crashPoint('before-commit');
      await this.conn.run('COMMIT');
    } catch (error) {
      await this.conn.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
    for (const r of results) onTable?.(r);
    return results;
  }

  private async loadTable(manifest: Manifest, table: PackageTable, file: string): Promise<TableLoadResult> {
    const target = this.ref.table(table.name);
    const columns = table.columns;
    const source = table.rows > 0 ? readCsvSql(file, columns) : undefined;
    try {
      if (table.replaceAll) {
        await this.conn.run(createTableSql(this.ref, table.name, columns, true));
        if (source) {
          const staged = await this.stageIfGuarded(table, source);
          await this.conn.run(`INSERT INTO ${target} (${columnList(columns)}) SELECT ${castList(columns)} FROM ${staged}`);
        }
      } else {
        await this.conn.run(createTableSql(this.ref, table.name, columns, false));
        await this.evolveColumns(table);
        if (source) {
          const staged = await this.stageIfGuarded(table, source);
          await this.conn.run(`CREATE OR REPLACE TEMP TABLE "_ingesta_merge" AS SELECT ${castList(columns)} FROM ${staged}`);
          await this.conn.run(`DELETE FROM ${target} USING "_ingesta_merge" WHERE ${keyJoin(target, '"_ingesta_merge"', table.primaryKey)}`);
          await this.conn.run(`INSERT INTO ${target} (${columnList(columns)}) SELECT ${columnList(columns)} FROM "_ingesta_merge"`);
          await this.conn.run('DROP TABLE "_ingesta_merge"');
        }
      }
      await this.conn.run('DROP TABLE IF EXISTS "_ingesta_stage"');
    } catch (cause) {
      if (cause instanceof DataError) throw cause;
      throw new DataError(
        `Loading table ${table.name} into DuckDB failed: ${messageOf(cause).split('\n').slice(0, 3).join(' ')}. ` +
          'Nothing was committed; the previous data and state are intact.',
        { cause },
      );
    }
    const count = await this.query(`SELECT count(*)::BIGINT AS n FROM ${target}`);
    const rowsInDestination = Number(count[0]?.n ?? 0);
    const mode = table.replaceAll ? 'full' : 'incremental';
    const cursor = table.cursor;
    if (cursor) {
      await this.conn.run(`DELETE FROM ${this.ref.table(STATE_TABLE)} WHERE table_name = $1`, [table.name]);
      // an empty incremental batch keeps the previous cursor
      const value = cursor.next ?? cursor.previous;
      await this.conn.run(`INSERT INTO ${this.ref.table(STATE_TABLE)} VALUES ($1, $2, $3, $4, $5, now())`, [
        table.name, cursor.column, cursor.columnType, value, manifest.runId,
      ] as never);
    }
    await this.conn.run(`INSERT INTO ${this.ref.table(LOADS_TABLE)} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())`, [
      manifest.runId, table.name, table.writeDisposition, mode, table.rows, rowsInDestination, table.sourceRowCount,
      cursor?.column ?? null, cursor?.lowerBound ?? null, cursor ? (cursor.next ?? cursor.previous) : null,
    ] as never);
    return { table: table.name, mode, rowsLoaded: table.rows, rowsInDestination };
  }

  /**
   * Columns whose text must be checked before casting (numeric without precision → DECIMAL(38,9)) are staged as
   * text first; a value that does not fit stops the load with its table, column and value instead of being rounded.
   */
  private async stageIfGuarded(table: PackageTable, source: string): Promise<string> {
    const guarded = table.columns.filter((c) => c.guard === 'decimal_38_9');
    if (guarded.length === 0) return source;
    await this.conn.run(`CREATE OR REPLACE TEMP TABLE "_ingesta_stage" AS SELECT * FROM ${source}`);
    for (const c of guarded) {
      const q = quoteIdent(c.name);
      const bad = await this.query(
        `SELECT ${q} AS v FROM "_ingesta_stage" WHERE ${q} IS NOT NULL AND NOT regexp_full_match(${q}, '-?[0-9]{1,29}(\\.[0-9]{0,9}0*)?') LIMIT 1`,
      );
      if (bad.length > 0) {
        throw new DataError(
          `Table ${table.name}, column ${c.name} (${c.sourceType}): value ${String(bad[0]!.v).slice(0, 80)} does not fit ${c.destinationType} ` +
            '(at most 29 integer and 9 fraction digits, no NaN/Infinity). Declare a precision on the source column ' +
            'or exclude the column; nothing was written.',
        );
      }
    }
    return '"_ingesta_stage"';
  }

  /** Merge tables follow added columns (NULL in older rows); a changed type needs a full refresh. */
  private async evolveColumns(table: PackageTable): Promise<void> {
    const existing = await this.query('SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = $1 AND schema_name = $2 AND table_name = $3', [
      this.ref.database, this.dataset, table.name,
    ]);
    const byName = new Map(existing.map((r) => [String(r.column_name), String(r.data_type)]));
    for (const c of table.columns) {
      const current = byName.get(c.name);
      if (current === undefined) {
        await this.conn.run(`ALTER TABLE ${this.ref.table(table.name)} ADD COLUMN ${quoteIdent(c.name)} ${c.destinationType}`);
      } else if (normalizeType(current) !== normalizeType(c.destinationType)) {
        throw new DataError(
          `Table ${table.name}, column ${c.name}: the source type now maps to ${c.destinationType} but the destination holds ${current}. ` +
            `Run with --full-refresh ${table.name} to rebuild the table; nothing was written.`,
        );
      }
    }
  }

  async recordFailure(runId: string, env: string, tables: readonly string[], message: string): Promise<void> {
    // only where ingesta already keeps its history: a failed first run must not create the dataset
    if (!this.connection || !(await this.tableExists(RUNS_TABLE).catch(() => false))) return;
    try {
      await this.conn.run(`INSERT INTO ${this.ref.table(RUNS_TABLE)} VALUES ($1, $2, 'failed', $3::VARCHAR[], NULL, NULL, now(), $4)`, [
        runId, env, `[${tables.map((t) => JSON.stringify(t)).join(',')}]`, message.slice(0, 2000),
      ] as never);
    } catch {
      // best effort: the failure is reported on stderr and by the exit code anyway
    }
  }

  async close(): Promise<void> {
    this.connection?.closeSync();
    this.instance?.closeSync();
    this.connection = undefined;
    this.instance = undefined;
  }
}
