import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { DataError, DestinationError, messageOf } from '../../errors.js';
import type { Manifest, PackageTable } from '../../package/load-package.js';
import type { ColumnMapping } from '../../source/postgres/postgres-type-map.js';
import type { CheckResult } from '../../quality/check-types.js';
import { duckdbDialect } from '../../quality/quality-dialect.js';
import type { GateTarget } from '../../quality/quality-gate.js';
import { describeChange, diffColumns } from '../../schema/schema-evolution.js';
import { schemaFrozenError } from '../../schema/schema-contract.js';
import { tableSchemaDoc, versionHash, type DatasetSchemaDoc } from '../../schema/schema-document.js';
import { quoteIdent, quoteLiteral } from '../../sql/quote.js';
import { crashPoint } from '../../faults/crash-points.js';
import type { DatasetStatus, Destination, DestinationCapabilities, KeyDiff, KeyDiffRequest, LoadSession, MergeCountRequest, TableLoadResult, TableState } from '../destination.js';
import {
  DatasetRef, LOADS_TABLE, RUNS_TABLE, SCHEMA_TABLE, STATE_TABLE, castList, childTableName, unnestSelect, columnList, createTableSql, keyJoin, lineLimitFor, metadataDdl, readCsvSql,
} from './duckdb-sql.js';
import { DuckDBHistory } from './duckdb-history.js';
import { countAfterMerge, deleteKeysSql, diffKeys } from './duckdb-key-diff.js';
import { describeDuckdbFailure } from './duckdb-errors.js';
import {
  cannotChange, cannotChangeError, measureNumerics, mergeNumeric, refusedColumn, textKey, textNote, withTextFallbacks, type NumericStats,
} from './duckdb-type-policy.js';
import { DEFAULT_DUCKDB_SETTINGS, type DuckDBSettings } from '../../config/runtime-settings.js';
import { applyBackfill } from './duckdb-backfill.js';

export const DUCKDB_CAPABILITIES: DestinationCapabilities = Object.freeze({
  transactional: true,
  mergeStrategy: 'delete-insert',
  timestampPrecision: 'microsecond',
  caseSensitiveIdentifiers: false,
  lowerCaseIdentifiers: false,
  keyReconciliation: true,
  columnBackfill: true,
});

type Value = string | number | bigint | boolean | null;

/** Session settings of every DuckDB connection ingesta opens (resolved with the config: config/runtime-settings.ts). */
function duckdbSettings({ memoryLimit, threads }: DuckDBSettings): string[] {
  // raw tables have no row order: letting DuckDB write them in parallel without keeping the file's order is faster
  return [`SET memory_limit = ${quoteLiteral(memoryLimit)}`, 'SET preserve_insertion_order = false', ...(threads ? [`SET threads = ${threads}`] : [])];
}

/** DuckDB's display of a size ("122.0 MiB", "1.5 GiB", "512 bytes") in bytes. */
function parseDuckdbSize(text: string): number {
  const m = /^([\d.]+)\s*(bytes|B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?$/i.exec(text.trim());
  if (!m) return 128 * 2 ** 20;
  const unit = (m[2] ?? 'B').toLowerCase();
  const scale: Record<string, number> = { bytes: 1, b: 1, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12 };
  return Math.round(Number(m[1]) * (scale[unit] ?? 1));
}

/** A stored DECIMAL(38,s) of an unconstrained numeric that this load measured at another scale: not a contract change. */
function isMeasuredDecimal(columns: readonly ColumnMapping[], name: string, existing: ReadonlyMap<string, string>): boolean {
  const c = columns.find((x) => x.name === name);
  return c?.guard === 'unconstrained_numeric' && /^DECIMAL\(38,\d+\)$/.test(existing.get(name) ?? '') && /^DECIMAL\(38,\d+\)$/.test(c.destinationType);
}

/**
 * Thrown inside a load when the package must be loaded again with an adjustment (a column as exact text, a larger
 * CSV line limit for a table); the whole transaction starts over with it.
 */
class TextFallback extends Error {
  constructor(
    readonly key: string,
    override readonly cause: DataError,
  ) {
    super(cause.message);
  }
}

/** DuckDB read fewer rows from a package file than were extracted into it. */
class ShortRead extends Error {}

/** A local DuckDB file: one transaction commits data, cursors and the load record together. */
export class DuckDBDestination implements Destination {
  readonly capabilities = DUCKDB_CAPABILITIES;
  private instance: DuckDBInstance | undefined;
  private connection: DuckDBConnection | undefined;
  /** Second connection for key reconciliation while the load transaction is open on the first. */
  private reader: DuckDBConnection | undefined;
  private diffing: Promise<unknown> = Promise.resolve();
  private datasetRef: DatasetRef | undefined;
  /** What this package must be loaded with, found by a failed attempt: "table\0column" of columns holding a value
   * DuckDB refused (a BC date, NaN in numeric(p,s): loaded as text, see duckdb-type-policy.ts), "table\0\0max_line_size"
   * for tables with records over the default CSV line limit. */
  private adjustments = new Set<string>();
  /** ingesta's own tables in the dataset: state, run history, quality results, schema versions. */
  private readonly history: DuckDBHistory;
  /** Whether open() created the file, and whether a load was committed to it since. */
  private createdFile = false;
  private committed = false;
  /** The session's memory limit, in bytes (restored after a table read with a raised one). */
  private memoryLimitBytes = 128 * 2 ** 20;
  /** What was measured of each unconstrained numeric column of the table being loaded. */
  private numericStats = new Map<string, NumericStats>();
  /** What the last load decided on its own (a lossless type fallback, …), for the run's warnings. */
  private notes: string[] = [];

  constructor(
    private readonly file: string,
    private readonly dataset: string,
    private readonly options: { readonly readOnly?: boolean; readonly settings?: DuckDBSettings } = {},
  ) {
    this.history = new DuckDBHistory({
      query: (sql, values) => this.query(sql, values),
      run: async (sql, values) => {
        await this.conn.run(sql, values as never);
      },
      ref: () => this.ref,
      tableExists: (table) => this.tableExists(table),
      dataset,
      label: file,
      open: () => this.connection !== undefined,
    });
  }

  async open(): Promise<void> {
    if (this.options.readOnly && !existsSync(this.file)) {
      throw new DestinationError(`The DuckDB file ${this.file} does not exist: nothing has been loaded there yet. Run a load first, or check --duckdb-path.`);
    }
    // a file this run creates is removed again if nothing is committed to it (bad input leaves nothing behind)
    this.createdFile = !this.options.readOnly && this.file !== ':memory:' && !existsSync(this.file);
    try {
      if (!this.options.readOnly && this.file !== ':memory:') mkdirSync(path.dirname(path.resolve(this.file)), { recursive: true });
      this.instance = await DuckDBInstance.create(this.file, this.options.readOnly ? { access_mode: 'READ_ONLY' } : {});
      this.connection = await this.instance.connect();
      await this.connection.run("SET TimeZone = 'UTC'");
      for (const setting of duckdbSettings(this.options.settings ?? DEFAULT_DUCKDB_SETTINGS)) await this.connection.run(setting);
      this.memoryLimitBytes = parseDuckdbSize(String((await this.query("SELECT current_setting('memory_limit') AS m"))[0]?.m ?? ''));
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

  async existingTables(): Promise<Set<string>> {
    const rows = await this.query('SELECT table_name FROM duckdb_tables() WHERE database_name = $1 AND schema_name = $2', [this.ref.database, this.dataset]);
    return new Set(rows.map((r) => String(r.table_name)));
  }

  async loadPackage(manifest: Manifest, packageDir: string, onTable?: (result: TableLoadResult) => void): Promise<TableLoadResult[]> {
    this.adjustments = new Set();
    return this.loadWithRetries(manifest, packageDir, onTable);
  }

  /** An adjustment found while loading (a BC date, an over-long record) starts the whole transaction over with it. */
  private async loadWithRetries(manifest: Manifest, packageDir: string, onTable?: (result: TableLoadResult) => void): Promise<TableLoadResult[]> {
    for (;;) {
      const session = await this.beginLoad(manifest, packageDir);
      try {
        for (const table of manifest.tables) await session.loadTable(table);
        const results = await session.commit(manifest);
        for (const r of results) onTable?.(r);
        return results;
      } catch (error) {
        await session.abort();
        if (!(error instanceof TextFallback) || this.adjustments.has(error.key)) throw error instanceof TextFallback ? error.cause : error;
        this.adjustments.add(error.key);
      }
    }
  }

  /**
   * Opens the load transaction so tables can be loaded one by one while later ones are still being extracted
   * (extraction and loading overlap on two cores). Nothing is visible until commit; a table that needs an
   * adjustment makes commit start the whole package over (loadWithRetries), from the complete package on disk.
   */
  async beginLoad(manifest: Pick<Manifest, 'runId'>, packageDir: string): Promise<LoadSession> {
    await this.conn.run('BEGIN TRANSACTION');
    const results: TableLoadResult[] = [];
    let failure: unknown;
    try {
      for (const sql of metadataDdl(this.ref)) await this.conn.run(sql);
    } catch (error) {
      await this.conn.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
    return {
      loadTable: async (table) => {
        if (failure !== undefined) return;
        try {
          results.push(await this.loadTable(manifest as Manifest, table, path.join(packageDir, table.file)));
        } catch (error) {
          failure = error;
          throw error;
        }
      },
      commit: async (complete, onTable) => {
        if (failure instanceof TextFallback) {
          await this.conn.run('ROLLBACK').catch(() => undefined);
          await this.restoreMemoryLimit();
          this.adjustments.add(failure.key);
          return this.loadWithRetries(complete, packageDir, onTable);
        }
        if (failure !== undefined) throw failure;
        await this.conn.run(
          `INSERT INTO ${this.ref.table(RUNS_TABLE)} VALUES ($1, $2, 'loaded', $3::VARCHAR[], $4::TIMESTAMPTZ, $5::TIMESTAMPTZ, now(), NULL)`,
          [complete.runId, complete.env, `[${complete.tables.map((t) => JSON.stringify(t.name)).join(',')}]`, complete.snapshotAt ?? null, complete.createdAt] as never,
        );
        crashPoint('before-commit');
        await this.conn.run('COMMIT');
        this.committed = true;
        for (const r of results) onTable?.(r);
        return results;
      },
      abort: async () => {
        await this.conn.run('ROLLBACK').catch(() => undefined);
        await this.restoreMemoryLimit();
      },
    };
  }

  private async loadTable(manifest: Manifest, packaged: PackageTable, file: string): Promise<TableLoadResult> {
    this.notes = [];
    this.numericStats = new Map();
    const target = this.ref.table(packaged.name);
    const existing = await this.describeTable(packaged.name);
    const table = withTextFallbacks(packaged, existing, this.adjustments);
    const longLines = this.adjustments.has(`${table.name}\u0000\u0000max_line_size`);
    // a record longer than DuckDB's default 2 MB line limit: the limit (and the read buffer) sized to the whole file
    const lineLimit = longLines ? lineLimitFor(table.bytes) : undefined;
    const csv = (columns: readonly ColumnMapping[]) => (table.rows > 0 ? readCsvSql(file, columns, lineLimit) : undefined);
    // reading such a record needs about four buffers of it: the memory limit is raised for this table only
    if (lineLimit) await this.conn.run(`SET memory_limit = '${Math.max(this.memoryLimitBytes, 4 * (lineLimit + 2 ** 20))}B'`);
    try {
      // unconstrained numerics are measured on the CSV itself (one pass over those columns only), then the table is
      // read once with each column's final type: no staging copy
      const measured = table.rows > 0 ? await this.measureNumerics(table, csv(table.columns)!) : [...table.columns];
      if (existing.size > 0 && table.schemaContract === 'freeze') {
        const changes = diffColumns(existing, measured).filter((c) => c.kind !== 'widened' || !isMeasuredDecimal(measured, c.column, existing));
        // a value no stored type holds: the column would have to become text, which the contract forbids
        const toText = changes.map((c) => measured.find((m) => m.name === c.column && m.guard !== undefined && m.destinationType === 'VARCHAR' && c.kind === 'widened'));
        const refused = toText.find((m) => m !== undefined);
        if (refused) throw await this.cannotChangeError(table, file, lineLimit, refused, existing.get(refused.name)!, 'freeze');
        if (changes.length > 0) throw schemaFrozenError(table.name, changes);
      }
      if (table.replaceAll) {
        // rebuilt from the full extract in the source's current shape; columns the source dropped stay (NULL) unless
        // this is a full refresh
        const kept = table.dropRemovedColumns ? [] : [...existing].filter(([name]) => !measured.some((c) => c.name === name));
        const from = csv(measured);
        if (from) {
          // CREATE … AS SELECT writes the new table in one pass (≈ 10 % faster than CREATE, then INSERT); every
          // column is cast to its declared type, so the table's types are exactly the mapped ones
          const select = [
            ...measured.map((c) => `CAST(${c.castSql} AS ${c.destinationType}) AS ${quoteIdent(c.name)}`),
            ...kept.map(([name, type]) => `CAST(NULL AS ${type}) AS ${quoteIdent(name)}`),
          ];
          await this.conn.run(`CREATE OR REPLACE TABLE ${target} AS SELECT ${select.join(', ')} FROM ${from}`);
          await this.expectAllRowsRead(table, target);
        } else {
          const defs = [...measured.map((c) => `${quoteIdent(c.name)} ${c.destinationType}`), ...kept.map(([name, type]) => `${quoteIdent(name)} ${type}`)];
          await this.conn.run(`CREATE OR REPLACE TABLE ${target} (${defs.join(', ')})`);
        }
      } else {
        const columns = existing.size === 0 ? measured : await this.evolveColumns(table, existing, measured, file, lineLimit);
        if (existing.size === 0) await this.conn.run(createTableSql(this.ref, table.name, columns, false));
        const from = csv(columns);
        if (from) {
          await this.conn.run(`CREATE OR REPLACE TEMP TABLE "_ingesta_merge" AS SELECT ${castList(columns)} FROM ${from}`);
          await this.expectAllRowsRead(table, '"_ingesta_merge"');
          await this.conn.run(`DELETE FROM ${target} USING "_ingesta_merge" WHERE ${keyJoin(target, '"_ingesta_merge"', table.primaryKey)}`);
          await this.conn.run(`INSERT INTO ${target} (${columnList(columns)}) SELECT ${columnList(columns)} FROM "_ingesta_merge"`);
        }
        if (table.reconcile?.deletesFile) await this.deleteReconciled(table, path.join(path.dirname(file), table.reconcile.deletesFile));
        if (table.backfill) await applyBackfill(this.conn, this.ref, table, columns, path.join(path.dirname(file), table.backfill.file));
      }
    } catch (cause) {
      if (cause instanceof DataError) throw cause;
      if (cause instanceof ShortRead && longLines) {
        throw new DataError(`${cause.message}. Nothing was committed; the previous data and state are intact.`, { cause });
      }
      // a record longer than DuckDB's default line limit (a very large text value) fails to parse, or is dropped
      // silently (DuckDB 1.5): the whole package is loaded again with a limit and a buffer that fit the file
      const tooLong = /unterminated quote/i.test(messageOf(cause)) && table.bytes > 2 ** 21;
      if (!longLines && (cause instanceof ShortRead || /maximum line size/i.test(messageOf(cause)) || tooLong)) {
        throw new TextFallback(`${table.name}\u0000\u0000max_line_size`, new DataError(`Table ${table.name}: a record is too long to load: ${describeDuckdbFailure(messageOf(cause))}`, { cause }));
      }
      // a value DuckDB refuses (a BC date, a timestamp past its range, NaN in numeric(p,s)): the column becomes text
      const column = refusedColumn(messageOf(cause), table);
      if (column) {
        throw new TextFallback(
          textKey(table.name, column.name),
          new DataError(`Table ${table.name}, column ${column.name}: DuckDB cannot hold a value of it and the column could not fall back to text.`, { cause }),
        );
      }
      // DuckDB's message quotes the value (and the CSV record): only what failed and where is kept
      throw new DataError(
        `Loading table ${table.name} into DuckDB failed: ${describeDuckdbFailure(messageOf(cause))}. ` +
          (/out of memory/i.test(messageOf(cause)) ? 'Raise INGESTA_DUCKDB_MEMORY_LIMIT. ' : '') +
          'Nothing was committed; the previous data and state are intact.',
        { cause },
      );
    } finally {
      // (inside a failed transaction this SET fails too: abort() restores the limit after its ROLLBACK)
      if (lineLimit) await this.restoreMemoryLimit();
    }
    const count = await this.query(`SELECT count(*)::BIGINT AS n FROM ${target}`);
    await this.recordSchema(manifest.runId, table, table.name, table.columns);
    for (const column of table.unnest) await this.loadChildTable(manifest.runId, table, column);
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
    await this.conn.run('DROP TABLE IF EXISTS "_ingesta_merge"');
    for (const c of packaged.columns) {
      if (this.adjustments.has(textKey(table.name, c.name))) this.notes.push(textNote(table.name, c, !table.replaceAll && existing.get(c.name) !== 'VARCHAR'));
    }
    return { table: table.name, mode, rowsLoaded: table.rows, rowsInDestination, notes: [...this.notes] };
  }

  private async restoreMemoryLimit(): Promise<void> {
    await this.conn.run(`SET memory_limit = '${this.memoryLimitBytes}B'`).catch(() => undefined);
  }

  /** Every record of the package file must have become a row: DuckDB's CSV reader can drop an over-long last record. */
  private async expectAllRowsRead(table: PackageTable, loaded: string): Promise<void> {
    const [row] = await this.query(`SELECT count(*)::BIGINT AS n FROM ${loaded}`);
    const n = Number(row?.n ?? 0);
    if (n !== table.rows) throw new ShortRead(`Table ${table.name}: DuckDB read ${n} of the ${table.rows} rows extracted from the source`);
  }

  /** Removes the keys the source no longer has (found by key reconciliation) from the table and its child tables. */
  private async deleteReconciled(table: PackageTable, deletesFile: string): Promise<void> {
    const types = await this.describeTable(table.name);
    const keys = table.primaryKey.map((name) => ({ name, type: types.get(name)! }));
    for (const name of [table.name, ...table.unnest.map((column) => childTableName(table.name, column))]) {
      if (name !== table.name && (await this.describeTable(name)).size === 0) continue;
      await this.conn.run(deleteKeysSql(this.ref, name, keys, deletesFile));
    }
  }

  /**
   * Keeps `<table>__<column>` in step with its parent: rebuilt from the whole parent after a full load; after a merge,
   * the merged keys' elements are replaced.
   */
  private async loadChildTable(runId: string, table: PackageTable, column: string): Promise<void> {
    const parent = await this.describeTable(table.name);
    const type = parent.get(column);
    if (type === undefined || !(type === 'JSON' || type.endsWith('[]'))) {
      throw new DataError(`Table ${table.name}: unnest names column ${column}, which is ${type === undefined ? 'missing' : `of type ${type}, not JSON or a list`}. Fix the catalog.`);
    }
    if (table.primaryKey.length === 0) throw new DataError(`Table ${table.name}: unnesting ${column} needs a primary key to link the elements to their row.`);
    const name = childTableName(table.name, column);
    const child = this.ref.table(name);
    const isJson = type === 'JSON';
    try {
      if (table.replaceAll || (await this.describeTable(name)).size === 0) {
        await this.conn.run(`CREATE OR REPLACE TABLE ${child} AS ${unnestSelect(this.ref.table(table.name), table.primaryKey, column, isJson)}`);
      } else {
        const merged = '"_ingesta_merge"';
        if ((await this.query(`SELECT 1 FROM duckdb_tables() WHERE temporary AND table_name = '_ingesta_merge'`)).length === 0) return;
        await this.conn.run(`DELETE FROM ${child} USING ${merged} WHERE ${keyJoin(child, merged, table.primaryKey)}`);
        await this.conn.run(`INSERT INTO ${child} ${unnestSelect(merged, table.primaryKey, column, isJson)}`);
      }
    } catch (cause) {
      throw new DataError(`Unnesting ${table.name}.${column} into ${name} failed: ${describeDuckdbFailure(messageOf(cause))}`, { cause });
    }
    const keyColumns = table.columns.filter((c) => table.primaryKey.includes(c.name));
    await this.recordSchema(runId, { ...table, writeDisposition: table.writeDisposition }, name, keyColumns, { table: table.name, column });
  }

  /** Adds a row to `_ingesta_schema` when a table's schema (columns, types, names, key) differs from its last version. */
  private async recordSchema(
    runId: string,
    table: PackageTable,
    name: string,
    mapping: readonly ColumnMapping[],
    unnestedFrom?: { table: string; column: string },
  ): Promise<void> {
    const doc = tableSchemaDoc(
      {
        table: name, source: `${table.sourceSchema}.${table.sourceName}`, writeDisposition: table.writeDisposition,
        primaryKey: table.primaryKey, ...(unnestedFrom ? { unnestedFrom } : {}),
      },
      await this.describeTable(name),
      mapping,
    );
    const hash = versionHash(doc);
    const [last] = await this.query(`SELECT version_hash FROM ${this.ref.table(SCHEMA_TABLE)} WHERE table_name = $1 ORDER BY recorded_at DESC LIMIT 1`, [name]);
    if (last?.version_hash === hash) return;
    await this.conn.run(`INSERT INTO ${this.ref.table(SCHEMA_TABLE)} VALUES ($1, $2, $3::JSON, $4, now())`, [name, hash, JSON.stringify(doc), runId] as never);
  }

  /** Unconstrained numerics measured on the package file (see duckdb-type-policy.ts); a full load notes a text column. */
  private async measureNumerics(table: PackageTable, from: string): Promise<ColumnMapping[]> {
    const { columns, stats } = await measureNumerics((sql) => this.query(sql), table, from);
    this.numericStats = stats;
    for (const c of columns) {
      if (c.guard === 'unconstrained_numeric' && c.destinationType === 'VARCHAR' && stats.has(c.name) && table.replaceAll) this.notes.push(textNote(table.name, c, false));
    }
    return columns;
  }

  /** The error of a value a column cannot change for (see cannotChangeError), with the package file read as text. */
  private cannotChangeError(table: PackageTable, file: string, lineLimit: number | undefined, column: ColumnMapping, current: string, why: 'freeze' | 'key'): Promise<DataError> {
    const allText = table.rows > 0 ? readCsvSql(file, table.columns.map((c) => ({ name: c.name, csvType: 'VARCHAR' })), lineLimit) : undefined;
    return cannotChangeError((sql) => this.query(sql), allText, table, column, current, why);
  }

  /**
   * Merge tables follow the source's shape in place: an added column is added (NULL in older rows), a widened type is
   * altered (every stored value converts exactly), an unconstrained numeric whose new values need more scale is
   * widened when every stored value still fits, a dropped column stays (NULL in new rows). Any other type change
   * needs a full refresh. Returns the columns as the table now declares them.
   */
  private async evolveColumns(table: PackageTable, existing: ReadonlyMap<string, string>, columns: ColumnMapping[], file: string, lineLimit: number | undefined): Promise<ColumnMapping[]> {
    const target = this.ref.table(table.name);
    const result: ColumnMapping[] = [];
    for (const c of columns) {
      const current = existing.get(c.name);
      // an unconstrained numeric keeps its scale, changes it, or becomes exact text (see duckdb-type-policy.ts)
      if (current !== undefined && c.guard === 'unconstrained_numeric' && /^(DECIMAL\(38,\d+\)|VARCHAR)$/.test(current)) {
        const merge = await mergeNumeric((sql) => this.query(sql), target, c, current, this.numericStats.get(c.name));
        if (merge.kind === 'text' && current !== 'VARCHAR') {
          const why = cannotChange(table, c);
          if (why) throw await this.cannotChangeError(table, file, lineLimit, c, current, why);
          this.notes.push(textNote(table.name, c, true));
        }
        if (merge.kind === 'rescale') await this.conn.run(`ALTER TABLE ${target} ALTER COLUMN ${quoteIdent(c.name)} TYPE ${merge.column.destinationType}`);
        result.push(merge.column);
        continue;
      }
      result.push(c);
    }
    for (const change of diffColumns(existing, result)) {
      const q = quoteIdent(change.column);
      if (change.kind === 'added') await this.conn.run(`ALTER TABLE ${target} ADD COLUMN ${q} ${change.to}`);
      else if (change.kind === 'widened') await this.conn.run(`ALTER TABLE ${target} ALTER COLUMN ${q} TYPE ${change.to}`);
      else if (change.kind === 'incompatible') {
        throw new DataError(
          `${describeChange(table.name, change)}. Run with --full-refresh ${table.name} to rebuild the table; nothing was written.`,
        );
      }
    }
    return result;
  }

  /** Column name → type of a dataset table, in column order; empty when the table does not exist. */
  async describeTable(table: string): Promise<Map<string, string>> {
    const rows = await this.query(
      'SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = $1 AND schema_name = $2 AND table_name = $3 ORDER BY column_index',
      [this.ref.database, this.dataset, table],
    );
    return new Map(rows.map((r) => [String(r.column_name), String(r.data_type)]));
  }

  qualityTarget(): GateTarget {
    return {
      dialect: duckdbDialect((name) => this.ref.table(name)),
      query: (sql) => this.query(sql),
      columnTypes: (table) => this.describeTable(table),
    };
  }

  plannedSteps(table: Omit<PackageTable, 'rows' | 'bytes' | 'sourceRowCount'>): string[] {
    const target = `${this.dataset}.${table.name}`;
    const steps = table.replaceAll
      ? [`CREATE OR REPLACE TABLE ${target} with the source's columns${table.dropRemovedColumns ? '' : ' (and any column the source dropped, kept NULL)'}, filled from the extract`]
      : [`stage the batch, DELETE FROM ${target} the batch's keys (${table.primaryKey.join(', ')}), INSERT the batch`];
    for (const c of table.unnest) steps.push(`keep ${this.dataset}.${table.name}__${c} in step (unnested ${c})`);
    steps.push(`in the same transaction: ${table.cursor ? `cursor ${table.cursor.column} → ${table.cursor.next ?? table.cursor.previous ?? 'unchanged'}, ` : ''}load record; COMMIT`);
    return steps;
  }

  /** Writes a table (through a SELECT list over its columns) to a Parquet file, zstd-compressed. */
  async copyToParquet(table: string, selectList: string, file: string): Promise<void> {
    await this.conn.run(`COPY (SELECT ${selectList} FROM ${this.ref.table(table)}) TO ${quoteLiteral(file)} (FORMAT parquet, COMPRESSION zstd)`);
  }

  readState(): Promise<Map<string, TableState>> {
    return this.history.readState();
  }

  isRunLoaded(runId: string): Promise<boolean> {
    return this.history.isRunLoaded(runId);
  }

  schemaDocument(): Promise<DatasetSchemaDoc> {
    return this.history.schemaDocument();
  }

  status(runs: number): Promise<DatasetStatus> {
    return this.history.status(runs);
  }

  resetState(tables: readonly string[]): Promise<string[]> {
    return this.history.resetState(tables);
  }

  lastLoadedSnapshots(): Promise<Map<string, string>> {
    return this.history.lastLoadedSnapshots();
  }

  storeQualityResults(runId: string, env: string, results: readonly CheckResult[]): Promise<void> {
    return this.history.storeQualityResults(runId, env, results);
  }

  recordFailure(...args: Parameters<DuckDBHistory['recordFailure']>): Promise<void> {
    return this.history.recordFailure(...args);
  }

  /** Key reconciliation, on a second connection that sees committed data only (see duckdb-key-diff.ts). */
  async diffKeys(request: KeyDiffRequest): Promise<KeyDiff> {
    return this.onReader((reader) => diffKeys(reader, this.ref, request));
  }

  /** For the automatic reconciliation: see duckdb-key-diff.ts. */
  async countAfterMerge(request: MergeCountRequest): Promise<number | undefined> {
    return this.onReader((reader) => countAfterMerge(reader, this.ref, request));
  }

  /** Readers on several source connections reconcile tables at the same time: one at a time on the one connection. */
  private onReader<T>(work: (reader: DuckDBConnection) => Promise<T>): Promise<T> {
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

  interrupt(): void {
    this.connection?.interrupt();
    this.reader?.interrupt();
  }

  async close(): Promise<void> {
    this.reader?.closeSync();
    this.reader = undefined;
    this.connection?.closeSync();
    this.instance?.closeSync();
    this.connection = undefined;
    this.instance = undefined;
    if (this.createdFile && !this.committed) {
      for (const f of [this.file, `${this.file}.wal`]) rmSync(f, { force: true });
      this.createdFile = false;
    }
  }
}
