import type { Renderer } from '../cli/output.js';
import { resolveConfig } from '../config/config.js';
import { planRun, runPlan } from '../pipeline/run.js';
import type { RunSummary } from '../pipeline/events.js';
import { datavisionSql } from './datavision-generator.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';

export interface DemoOptions {
  /** Accounts to generate (≈ 17.5 rows each across the 8 tables). */
  readonly size: number;
  readonly duckdbPath: string;
  readonly renderer: Renderer;
}

/**
 * The main job with no setup: an embedded PostgreSQL (PGlite over a real socket, so the same `pg` + COPY path runs),
 * the DataVision schema filled by the deterministic generator, then `--env local` into the given DuckDB file.
 */
export async function runDemo(options: DemoOptions): Promise<RunSummary> {
  const { renderer } = options;
  renderer.info(`starting an embedded PostgreSQL (PGlite) and generating DataVision data for ${options.size} accounts…`);
  const pg = await startEmbeddedPostgres();
  try {
    for (const statement of datavisionSql({ accounts: options.size })) await pg.exec(statement);
    // PGlite has a single backend: a second connection would wait for the first one's snapshot to end
    const config = resolveConfig({ env: 'local', duckdbPath: options.duckdbPath, sourceUrl: pg.url, maxConnections: 1 }, {});
    const summary = await runPlan(planRun(config), (e) => renderer.event(e));
    renderer.info(`\nDuckDB file: ${options.duckdbPath} (schema ${summary.dataset}). Try:\n  duckdb ${options.duckdbPath} "SELECT * FROM ${summary.dataset}.contents LIMIT 5"`);
    return summary;
  } finally {
    await pg.stop();
  }
}
