/**
 * The measuring process of lib-stages.ts: DuckDB's stages of a full load, timed on the CSV files of a load package,
 * in a process of its own so that `process.cpuUsage()` (user + sys of every thread of the process, DuckDB's included:
 * they run in-process) is the stages' CPU and nothing else's.
 *
 *   node --import tsx bench/lib-stages-child.ts <manifest.json> <work folder> <round>
 *
 * One round per process (each as fresh as the CLI's load: DuckDB's one-time set-up and allocator warm-up are in
 * every round, as in every run). A new DuckDB file in <work folder> with ingesta's own session (configureSession with
 * the settings the CLI resolves from the environment, the CSV reader's buffer from csvBufferSize, the progress bar
 * on as DuckDBFile does), and per table, in manifest order:
 *   a. parse: read_csv of the file with every column VARCHAR, into count(c) of each column (every column produced,
 *      nothing stored);
 *   b. parse + casts: the real load's read (each column's CSV type) and typed SELECT list (typedSelectList over the
 *      columns assumeNumerics gives a full load: the unconstrained numerics' checked wide-decimal cast), into the same
 *      kind of sink;
 *   c. parse + casts + store: `CREATE TABLE … AS SELECT <typed list> FROM read_csv(…)` inside one transaction, as the
 *      load writes it; once all tables are written, `SET threads = 1; COMMIT` as DuckDBFile.commitOnOneThread does.
 * Prints one JSON line (StagesChildResult) on stdout.
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { DuckDBInstance } from '../src/normalize/duckdb-module.js';
import { configureSession } from '../src/normalize/duckdb-settings.js';
import { resolveDuckDBSettings } from '../src/config/runtime-settings.js';
import { csvBufferSize, readCsvSql } from '../src/normalize/csv-read.js';
import { typedSelectList } from '../src/normalize/typed-relation.js';
import { assumeNumerics, measureNumerics } from '../src/normalize/numeric-measure.js';
import type { ColumnMapping } from '../src/normalize/column-mapping.js';
import type { Manifest } from '../src/package/load-package.js';
import { quoteIdent } from '../src/sql/quote.js';

/** CPU (user + sys of the process) and wall of one statement, ms. */
export interface Timed {
  readonly cpuMs: number;
  readonly wallMs: number;
}

export interface TableRound {
  readonly table: string;
  readonly rows: number;
  readonly bytes: number;
  readonly parse: Timed;
  readonly parseCasts: Timed;
  readonly parseCastsStore: Timed;
  /** The checked cast of an unconstrained numeric refused a value: measured first, as the load's second attempt does. */
  readonly measured: boolean;
}

export interface StagesRound {
  readonly tables: TableRound[];
  /** `SET threads = 1; COMMIT` of the round's transaction. */
  readonly commit: Timed;
  /** Size of the DuckDB file after the commit. */
  readonly fileBytes: number;
}

export interface StagesChildResult {
  readonly threads: number;
  readonly memoryLimitBytes: number;
  readonly csvBufferBytes: number;
  readonly round: StagesRound;
  /**
   * EXPLAIN of the largest table's sinks: the columns read_csv produces in a (parseRead) and b (typedRead), so no
   * column is pruned (round 0 only). (The casts under count() are evaluated: a CAST that fails raises its error,
   * checked by hand.)
   */
  readonly projectionCheck: ProjectionCheck | undefined;
}

export interface ProjectionCheck {
  readonly table: string;
  readonly columns: number;
  readonly parseRead: number;
  readonly typedRead: number;
}

interface PlanNode {
  readonly name: string;
  readonly children: PlanNode[];
  readonly extra_info?: { readonly Projections?: string | string[] };
}

async function plan(conn: DuckDBConnection, sql: string): Promise<PlanNode[]> {
  const rows = (await conn.runAndReadAll(`EXPLAIN (FORMAT json) ${sql}`)).getRows();
  return JSON.parse(String(rows[0]?.[1] ?? '[]')) as PlanNode[];
}

const nodes = (roots: readonly PlanNode[]): PlanNode[] => roots.flatMap((n) => [n, ...nodes(n.children)]);
const list = (p: string | string[] | undefined): string[] => (p === undefined ? [] : Array.isArray(p) ? p : [p]);

/** The columns READ_CSV produces (undefined: it lists none, so all). */
function csvProjections(roots: readonly PlanNode[]): number | undefined {
  const scan = nodes(roots).find((n) => n.name === 'READ_CSV');
  const p = scan?.extra_info?.Projections;
  return p === undefined ? undefined : list(p).length;
}

async function timed(work: () => Promise<unknown>): Promise<Timed> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await work();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { cpuMs: (c.user + c.system) / 1000, wallMs };
}

/** count() of each column: every column must be produced (its validity at least), no row is kept. */
const countSink = (columns: readonly string[], from: string) => `SELECT ${columns.map((c, i) => `count(${quoteIdent(c)}) AS n${i}`).join(', ')} FROM ${from}`;

async function main(): Promise<void> {
  const [manifestPath, work, roundArg] = process.argv.slice(2);
  if (!manifestPath || !work) throw new Error('usage: lib-stages-child.ts <manifest.json> <work folder> <round>');
  const r = Number(roundArg ?? 0);
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
  const folder = join(manifestPath, '..');
  const tables = manifest.tables.filter((t) => t.rows > 0 && !t.cdc);
  let check: ProjectionCheck | undefined;
  // the columns each table is read with: assumed (checked) unconstrained numerics, as a full load's first attempt;
  // measured when a checked cast refused a value (the load's second attempt)
  const typedColumns = new Map<string, ColumnMapping[]>();
  const measured = new Set<string>();
  for (const t of tables) typedColumns.set(t.name, assumeNumerics({ columns: t.columns, replaceAll: true }, new Map())?.columns ?? [...t.columns]);

  const file = join(work, `stages-${r}.duckdb`);
  for (const f of [file, `${file}.wal`]) rmSync(f, { force: true });
  const instance = await DuckDBInstance.create(file);
  const conn: DuckDBConnection = await instance.connect();
  let open = true;
  const closeAll = () => {
    if (!open) return;
    open = false;
    conn.closeSync();
    instance.closeSync();
  };
  try {
    // the settings the CLI would take from this environment (the bench passes none: the defaults)
    const limits = await configureSession(conn, resolveDuckDBSettings(process.env));
    const bufferBytes = csvBufferSize(limits.memoryLimitBytes, limits.threads);
    await conn.run('SET enable_progress_bar = true; SET enable_progress_bar_print = false');
    const read = (path: string, columns: readonly Pick<ColumnMapping, 'name' | 'csvType'>[]) => readCsvSql(path, columns, { bufferBytes });
    const byTable = new Map<string, { parse: Timed; parseCasts: Timed }>();
    for (const t of tables) {
      const path = join(folder, t.file);
      const names = t.columns.map((c) => c.name);
      const asText = t.columns.map((c) => ({ name: c.name, csvType: 'VARCHAR' }));
      const parse = await timed(() => conn.run(countSink(names, read(path, asText))));
      let columns = typedColumns.get(t.name)!;
      const typed = () => `(SELECT ${typedSelectList(columns).join(', ')} FROM ${read(path, columns)})`;
      let parseCasts: Timed;
      try {
        parseCasts = await timed(() => conn.run(countSink(names, typed())));
      } catch (error) {
        if (measured.has(t.name)) throw error;
        const query = async (sql: string) => (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
        columns = (await measureNumerics(query, { columns: t.columns }, read(path, t.columns))).columns;
        typedColumns.set(t.name, columns);
        measured.add(t.name);
        parseCasts = await timed(() => conn.run(countSink(names, typed())));
      }
      byTable.set(t.name, { parse, parseCasts });
    }
    if (r === 0) {
      const largest = [...tables].sort((x, y) => y.bytes - x.bytes)[0];
      if (largest) {
        const path = join(folder, largest.file);
        const names = largest.columns.map((c) => c.name);
        const columns = typedColumns.get(largest.name)!;
        const parsePlan = await plan(conn, countSink(names, read(path, largest.columns.map((c) => ({ name: c.name, csvType: 'VARCHAR' })))));
        const typedPlan = await plan(conn, countSink(names, `(SELECT ${typedSelectList(columns).join(', ')} FROM ${read(path, columns)})`));
        check = {
          table: largest.name,
          columns: names.length,
          parseRead: csvProjections(parsePlan) ?? names.length,
          typedRead: csvProjections(typedPlan) ?? names.length,
        };
      }
    }
    const tableRounds: TableRound[] = [];
    await conn.run('BEGIN TRANSACTION');
    await conn.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(manifest.dataset)}`);
    for (const t of tables) {
      const columns = typedColumns.get(t.name)!;
      const target = `${quoteIdent(manifest.dataset)}.${quoteIdent(t.name)}`;
      const store = await timed(() => conn.run(`CREATE OR REPLACE TABLE ${target} AS SELECT ${typedSelectList(columns).join(', ')} FROM ${read(join(folder, t.file), columns)}`));
      const a = byTable.get(t.name)!;
      tableRounds.push({ table: t.name, rows: t.rows, bytes: t.bytes, parse: a.parse, parseCasts: a.parseCasts, parseCastsStore: store, measured: measured.has(t.name) });
    }
    const commit = await timed(async () => {
      await conn.run('SET threads = 1');
      await conn.run('COMMIT');
    });
    await conn.run(`SET threads = ${limits.threads}`);
    closeAll();
    let fileBytes = 0;
    try {
      fileBytes = statSync(file).size;
    } catch {
      /* gone */
    }
    const out: StagesChildResult = {
      threads: limits.threads,
      memoryLimitBytes: limits.memoryLimitBytes,
      csvBufferBytes: bufferBytes,
      round: { tables: tableRounds, commit, fileBytes },
      projectionCheck: check,
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    closeAll();
    for (const f of [file, `${file}.wal`, `${file}.tmp`]) rmSync(f, { recursive: true, force: true });
  }
}

await main();
