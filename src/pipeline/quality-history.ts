import { loadCatalog } from '../catalog/catalog.js';
import type { RunConfig } from '../config/config.js';
import { createDestination } from '../destination/create-destination.js';
import { HISTORY_RUNS, lastRuns, type QualityHistory } from '../quality/report-history.js';
import { datasetName } from './run-plan.js';

/**
 * The dataset's last runs and their stored gate results, for the HTML report's history: read-only on the destination
 * (DuckDB: `_ingesta_runs`, `_ingesta_loads`, `_ingesta_quality`; dev/prod: the run and quality records in S3).
 */
export async function readQualityHistory(config: RunConfig, options: { readonly dataset?: string; readonly runs?: number } = {}): Promise<QualityHistory> {
  const dataset = options.dataset ?? datasetName(config, loadCatalog(config.catalogPath));
  const runs = options.runs ?? HISTORY_RUNS;
  const destination = await createDestination(config, dataset, { readOnly: true });
  await destination.open();
  try {
    return lastRuns(await destination.history.qualityHistory(runs), runs);
  } finally {
    await destination.close();
  }
}
