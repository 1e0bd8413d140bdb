import { DuckDBInstance } from '../normalize/duckdb-module.js';
import { textTable, type Renderer } from './output.js';
import { resolveConfig } from '../config/config.js';
import { planRun, runPlan } from '../pipeline/run.js';
import type { RunSummary } from '../pipeline/events.js';
import { quoteIdent } from '../sql/quote.js';
import { datavisionSql } from '../demo/datavision-generator.js';
import { startEmbeddedPostgres } from '../demo/embedded-postgres.js';

export interface DemoOptions {
  /** Accounts to generate (≈ 17.5 rows each across the 8 tables). */
  readonly size: number;
  readonly duckdbPath: string;
  readonly renderer: Renderer;
}

/** The table and columns the demo shows at the end: a few rows of what was just loaded. */
const SHOWN = { table: 'contents', columns: ['content_id', 'account_id', 'title', 'content_type', 'updated_at'], rows: 5 } as const;

/**
 * The main job with no setup: an embedded PostgreSQL (PGlite over a real socket, so the same `pg` + COPY path runs),
 * the DataVision schema filled by the deterministic generator, then `--env local --validar-calidad-datos` into the
 * given DuckDB file, and a few of the loaded rows read back from it (no DuckDB CLI needed).
 */
export async function runDemo(options: DemoOptions): Promise<RunSummary> {
  const { renderer } = options;
  renderer.info(`starting an embedded PostgreSQL (PGlite) and generating DataVision data for ${options.size} accounts…`);
  const pg = await startEmbeddedPostgres();
  let summary: RunSummary;
  try {
    for (const statement of datavisionSql({ accounts: options.size })) await pg.exec(statement);
    // PGlite has a single backend: a second connection would wait for the first one's snapshot to end
    const config = resolveConfig({ env: 'local', duckdbPath: options.duckdbPath, sourceUrl: pg.url, maxConnections: 1, validate: true, schemaExport: false }, {});
    summary = await runPlan(planRun(config), (e) => renderer.event(e));
  } finally {
    await pg.stop();
  }
  renderer.info(`\n${await sampleRows(options.duckdbPath, summary.dataset)}`);
  renderer.info(
    `\nDuckDB file: ${options.duckdbPath} (schema ${summary.dataset}). Next:\n` +
      `  npx ingesta status --duckdb-path ${options.duckdbPath}      what was loaded, cursors, runs\n` +
      '  npx ingesta --env local --source-url postgres://user@host/db --validar-calidad-datos   your own PostgreSQL',
  );
  return summary;
}

/** A few rows of the loaded table, read from the DuckDB file, as a text table. */
async function sampleRows(file: string, dataset: string): Promise<string> {
  const instance = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    const columns = SHOWN.columns.map((c) => `CAST(${quoteIdent(c)} AS VARCHAR) AS ${quoteIdent(c)}`).join(', ');
    const reader = await connection.runAndReadAll(
      `SELECT ${columns} FROM ${quoteIdent(dataset)}.${quoteIdent(SHOWN.table)} AS t ORDER BY t.${quoteIdent(SHOWN.columns[0])} LIMIT ${SHOWN.rows}`,
    );
    const rows = reader.getRowObjectsJS().map((r) => SHOWN.columns.map((c) => String(r[c] ?? 'NULL').slice(0, 40)));
    const [count] = (await connection.runAndReadAll(`SELECT count(*)::VARCHAR AS n FROM ${quoteIdent(dataset)}.${quoteIdent(SHOWN.table)}`)).getRowObjectsJS();
    connection.closeSync();
    return `${dataset}.${SHOWN.table} (${String(count?.n)} rows; the first ${rows.length}, read back from ${file}):\n${textTable([...SHOWN.columns], rows, new Set([0, 1]))}`;
  } finally {
    instance.closeSync();
  }
}
