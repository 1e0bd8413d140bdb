import type { RunConfig } from '../config/config.js';
import { createDestination, destinationLabel } from '../destination/create-destination.js';
import type { DatasetStatus } from '../destination/destination.js';
import { ConfigError } from '../errors.js';
import type { CheckResult } from '../quality/check-types.js';
import { runQualityGate } from '../quality/quality-gate.js';
import { loadCatalog } from '../catalog/catalog.js';
import { datasetName } from './run-plan.js';

export interface StatusReport extends DatasetStatus {
  readonly env: string;
  readonly dataset: string;
  readonly destination: string;
  /** Freshness of every catalog table the destination holds (the quality gate's freshness check). */
  readonly freshness: readonly CheckResult[];
}

/** `ingesta status`: read-only on the destination (no lock taken, other readers unaffected); the source is not touched. */
export async function datasetStatus(config: RunConfig, runs = 10): Promise<StatusReport> {
  const catalog = loadCatalog(config.catalogPath);
  const dataset = datasetName(config, catalog);
  const destination = await createDestination(config, dataset, { readOnly: true });
  await destination.open();
  try {
    const status = await destination.history.status(runs);
    const loaded = new Set(status.tables.map((t) => t.table));
    const specs = catalog.tables
      .filter((t) => loaded.has(t.name))
      .map((t) => ({ kind: 'freshness' as const, table: t.name, column: t.freshnessColumn, thresholdHours: t.freshnessHours, timezone: t.freshnessTimezone, severity: t.severity.freshness }));
    const freshness = await runQualityGate(specs, destination.qualityTarget(), new Map());
    return { env: config.env, dataset, destination: destinationLabel(config), ...status, freshness };
  } finally {
    await destination.close();
  }
}

/**
 * `ingesta reset --tables …`: forgets the incremental cursors of those tables, so their next run is a full load.
 * Takes the destination's lock like a load (it writes state); the data itself is left as it is.
 */
export async function resetTables(config: RunConfig, tables: readonly string[]): Promise<{ dataset: string; reset: string[]; unchanged: string[] }> {
  if (tables.length === 0) throw new ConfigError('ingesta reset needs --tables with the tables whose incremental state to forget.');
  const catalog = loadCatalog(config.catalogPath);
  const dataset = datasetName(config, catalog);
  const destination = await createDestination(config, dataset);
  await destination.open();
  try {
    const reset = await destination.history.resetState(tables);
    return { dataset, reset, unchanged: tables.filter((t) => !reset.includes(t)) };
  } finally {
    await destination.close();
  }
}
