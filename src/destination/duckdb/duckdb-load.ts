import path from 'node:path';
import type { Manifest, PackageTable } from '../../package/load-package.js';
import { crashPoint } from '../../faults/crash-points.js';
import type { LoadSession, TableLoadResult } from '../destination.js';
import { AdjustmentNeeded, LoadAdjustments } from '../../normalize/adjustments.js';
import { loadChildTable } from './duckdb-child-tables.js';
import type { DuckDBFile } from './duckdb-connection.js';
import { recordSchema } from './duckdb-evolution.js';
import { writeTable } from './duckdb-load-table.js';
import { LOADS_TABLE, RUNS_TABLE, STATE_TABLE, metadataDdl } from './duckdb-sql.js';
import { refusedNotes } from '../../normalize/text-fallback.js';

/**
 * The load of a package into DuckDB: one transaction commits the tables, their child tables, schema versions, cursors,
 * load records and the run record together. A table that needs an adjustment (a column as exact text, a larger CSV
 * line limit) makes the whole package start over with it, from the complete package on disk.
 */
export class DuckDBLoader {
  /** What this package must be loaded with, found by failed attempts (see normalize/adjustments.ts). */
  private adjustments = new LoadAdjustments();

  constructor(private readonly db: DuckDBFile) {}

  loadPackage(manifest: Manifest, packageDir: string, onTable?: (result: TableLoadResult) => void): Promise<TableLoadResult[]> {
    this.adjustments = new LoadAdjustments();
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
        if (!(error instanceof AdjustmentNeeded) || this.adjustments.has(error.adjustment)) throw error instanceof AdjustmentNeeded ? error.cause : error;
        this.adjustments.add(error.adjustment);
        await this.db.reopen();
      }
    }
  }

  /**
   * Opens the load transaction so tables can be loaded one by one while later ones are still being extracted
   * (extraction and loading overlap on two cores). Nothing is visible until commit; a table that needs an
   * adjustment makes commit start the whole package over (loadWithRetries), from the complete package on disk.
   */
  async beginLoad(manifest: Pick<Manifest, 'runId'>, packageDir: string): Promise<LoadSession> {
    const db = this.db;
    await db.run('BEGIN TRANSACTION');
    const results: TableLoadResult[] = [];
    let failure: unknown;
    try {
      for (const sql of metadataDdl(db.ref)) await db.run(sql);
    } catch (error) {
      await db.run('ROLLBACK').catch(() => undefined);
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
        if (failure instanceof AdjustmentNeeded) {
          await db.run('ROLLBACK').catch(() => undefined);
          this.adjustments.add(failure.adjustment);
          // a fresh instance: a rollback after an out-of-memory DELETE can leave deletion marks behind (DuckDBFile.reopen)
          await db.reopen();
          return this.loadWithRetries(complete, packageDir, onTable);
        }
        if (failure !== undefined) throw failure;
        await db.run(
          `INSERT INTO ${db.ref.table(RUNS_TABLE)} VALUES ($1, $2, 'loaded', $3::VARCHAR[], $4::TIMESTAMPTZ, $5::TIMESTAMPTZ, now(), NULL)`,
          [complete.runId, complete.env, `[${complete.tables.map((t) => JSON.stringify(t.name)).join(',')}]`, complete.snapshotAt ?? null, complete.createdAt] as never,
        );
        crashPoint('before-commit');
        await db.commitOnOneThread();
        await db.restoreMemoryLimit();
        for (const r of results) onTable?.(r);
        return results;
      },
      abort: async () => {
        await db.run('ROLLBACK').catch(() => undefined);
        await db.restoreMemoryLimit();
      },
    };
  }

  /** One table inside the transaction: its data (duckdb-load-table.ts), schema version, child tables, cursor, load record. */
  private async loadTable(manifest: Manifest, packaged: PackageTable, file: string): Promise<TableLoadResult> {
    const db = this.db;
    /** What this table's load decided on its own (a lossless type fallback, …), for the run's warnings. */
    const notes: string[] = [];
    const existing = await db.describeTable(packaged.name);
    // (the package table with its text fallbacks applied: what the schema version and the child tables are made of)
    const table = await writeTable(db, this.adjustments, packaged, existing, file, notes);
    const count = await db.query(`SELECT count(*)::BIGINT AS n FROM ${db.ref.table(table.name)}`);
    await recordSchema(db, manifest.runId, table, table.name, table.columns);
    for (const column of table.unnest) await loadChildTable(db, manifest.runId, table, column);
    const rowsInDestination = Number(count[0]?.n ?? 0);
    const mode = table.replaceAll ? 'full' : 'incremental';
    const cursor = table.cursor;
    // a load without a cursor (another source table of the same name loaded in full, a table no longer incremental)
    // leaves no cursor behind: a stale one would make a later incremental run merge into rows it never read
    await db.run(`DELETE FROM ${db.ref.table(STATE_TABLE)} WHERE table_name = $1`, [table.name]);
    if (cursor) {
      // an empty incremental batch keeps the previous cursor
      const value = cursor.next ?? cursor.previous;
      await db.run(`INSERT INTO ${db.ref.table(STATE_TABLE)} VALUES ($1, $2, $3, $4, $5, now())`, [
        table.name, cursor.column, cursor.columnType, value, manifest.runId,
      ] as never);
    }
    await db.run(`INSERT INTO ${db.ref.table(LOADS_TABLE)} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())`, [
      manifest.runId, table.name, table.writeDisposition, mode, table.rows, rowsInDestination, table.sourceRowCount,
      cursor?.column ?? null, cursor?.lowerBound ?? null, cursor ? (cursor.next ?? cursor.previous) : null,
    ] as never);
    await db.run('DROP TABLE IF EXISTS "_ingesta_merge"');
    notes.push(...refusedNotes(packaged, existing, this.adjustments));
    return { table: table.name, mode, rowsLoaded: table.rows, rowsInDestination, notes: [...notes] };
  }
}
