import type { Catalog } from '../catalog/catalog.js';
import type { DatasetSettings } from '../config/dataset-settings.js';
import { createDestination, destinationLabel } from '../destination/create-destination.js';
import type { Destination, RunStatus, TableStatus } from '../destination/destination.js';
import type { CheckResult } from '../quality/check-types.js';
import { runQualityGate } from '../quality/quality-gate.js';
import { catalogOrReason, existingDatasets, unknownDatasetError } from './dataset-choice.js';
import { explainLockedFile } from './lock-holder.js';

/** A table in `ingesta status`: what the history says, and the rows it holds now. */
export interface TableStatusRow extends TableStatus {
  /** Rows in the table now (counted), else as recorded after its last load; null where unknown. */
  readonly rows: number | null;
}

/** One dataset in `ingesta status`. */
export interface DatasetStatusReport {
  readonly dataset: string;
  readonly tables: readonly TableStatusRow[];
  readonly runs: readonly RunStatus[];
  /** Freshness of every catalog table the dataset holds (the quality gate's freshness check), now. */
  readonly freshness: readonly CheckResult[];
}

export interface StatusReport {
  readonly env: string;
  readonly destination: string;
  /** The dataset asked for (--dataset), else every dataset the destination holds. */
  readonly datasets: readonly DatasetStatusReport[];
  /** What could not be shown and why, one phrase each (no catalog, no QUERY_RESULT_BUCKET). */
  readonly skipped: readonly string[];
}

/**
 * `ingesta status`: read-only on the destination (takes no lock of its own); the source is never read. The dataset
 * is --dataset, else every dataset the destination holds (not the catalog's name: a file loaded with another catalog
 * would look empty); an unknown one is a ConfigError listing those that exist. The catalog only adds freshness.
 */
export async function datasetStatus(settings: DatasetSettings, runs = 10): Promise<StatusReport> {
  const available = await existingDatasets(settings, 'status');
  if (settings.dataset !== undefined && !available.includes(settings.dataset)) throw unknownDatasetError(settings.dataset, available, settings);
  const names = settings.dataset !== undefined ? [settings.dataset] : available;
  const skipped = [...(settings.skipped ?? [])];
  const queries = !settings.athena || settings.athena.queryResultLocation !== '';
  const read = catalogOrReason(settings);
  if ('reason' in read) skipped.push(`freshness (${read.reason})`);
  const catalog = 'catalog' in read ? read.catalog : undefined;
  const datasets: DatasetStatusReport[] = [];
  for (const dataset of names) {
    const destination = await createDestination(settings, dataset, { readOnly: true });
    try {
      await destination.open().catch((error: unknown) => {
        throw explainLockedFile(error, settings, 'status');
      });
      const status = await destination.history.status(runs);
      const counted = queries ? await countRows(destination, status.tables) : new Map<string, number>();
      const tables = status.tables.map((t) => ({ ...t, rows: counted.get(t.table) ?? t.rowsInDestination }));
      const freshness = catalog && queries ? await freshnessOf(destination, catalog, tables) : [];
      datasets.push({ dataset, tables, runs: status.runs, freshness });
    } finally {
      await destination.close();
    }
  }
  return { env: settings.env, destination: destinationLabel(settings), datasets, skipped };
}

/** Rows in each table now: one query over all of them (an Iceberg table's count comes from its metadata in Athena). */
async function countRows(destination: Destination, tables: readonly TableStatus[]): Promise<Map<string, number>> {
  const existing = await destination.existingTables();
  const counted = tables.filter((t) => existing.has(t.table));
  if (counted.length === 0) return new Map();
  const { dialect, query } = destination.qualityTarget();
  const rows = await query(counted.map((t) => `SELECT ${dialect.literal(t.table)} AS t, count(*) AS n FROM ${dialect.table(t.table)}`).join(' UNION ALL '));
  return new Map(rows.map((r) => [String(r.t), Number(r.n)]));
}

async function freshnessOf(destination: Destination, catalog: Catalog, tables: readonly TableStatus[]): Promise<CheckResult[]> {
  const loaded = new Set(tables.map((t) => t.table));
  const specs = catalog.tables
    .filter((t) => loaded.has(t.name))
    .map((t) => ({ kind: 'freshness' as const, table: t.name, column: t.freshnessColumn, thresholdHours: t.freshnessHours, timezone: t.freshnessTimezone, severity: t.severity.freshness }));
  return runQualityGate(specs, destination.qualityTarget(), new Map());
}
