import type { Catalog } from '../catalog/catalog.js';
import { loadCatalog } from '../catalog/catalog.js';
import type { DatasetSettings } from '../config/dataset-settings.js';
import { destinationLabel } from '../destination/create-destination.js';
import { listDatasets } from '../destination/dataset-listing.js';
import { ConfigError, DestinationError, IngestError, messageOf } from '../errors.js';
import { closestName } from '../source/postgres/source-tables.js';
import { explainLockedFile } from './lock-holder.js';

/** The datasets ingesta has written to the destination; a destination without any is a DestinationError (exit 5). */
export async function existingDatasets(settings: DatasetSettings, command: 'status' | 'reset'): Promise<string[]> {
  const datasets = await listDatasets(settings).catch((error: unknown) => {
    throw explainLockedFile(error, settings, command);
  });
  if (datasets.length === 0) {
    throw new DestinationError(`${destinationLabel(settings)} holds no dataset loaded by ingesta: nothing has been loaded there yet. Run a load first, or check --duckdb-path / BUCKET_URL.`);
  }
  return datasets;
}

/** A dataset name the destination does not hold: exit 2, listing the ones it holds. */
export function unknownDatasetError(name: string, datasets: readonly string[], settings: DatasetSettings): ConfigError {
  const hint = closestName(name, datasets);
  return new ConfigError(
    `Unknown dataset "${name}": ${destinationLabel(settings)} holds no such dataset.${hint ? ` Did you mean ${hint}?` : ''} ` +
      `Datasets there (${datasets.length}): ${datasets.join(', ')}. Name one with --dataset (INGESTA_DATASET), or leave it out to see them all.`,
  );
}

/** The catalog, or why it could not be read (status then skips what needs it: freshness). */
export function catalogOrReason(settings: DatasetSettings): { catalog: Catalog } | { reason: string } {
  try {
    return { catalog: loadCatalog(settings.catalogPath) };
  } catch (error) {
    if (!(error instanceof IngestError)) throw error;
    return { reason: messageOf(error) };
  }
}

/**
 * Tables named to `reset` that are neither in the catalog nor in the dataset: the same message as a run's unknown
 * table (what exists, the closest name), with the dataset in place of the source, which reset does not read.
 */
export function unknownResetTables(names: readonly string[], dataset: string, tables: readonly string[], catalog: Catalog | undefined): string {
  const known = [...tables, ...(catalog?.tables.map((t) => t.name) ?? [])];
  const hints = names.map((n) => [n, closestName(n, known)] as const).filter(([, s]) => s !== undefined);
  return (
    `Unknown table${names.length > 1 ? 's' : ''} ${names.map((n) => `"${n}"`).join(', ')}: not in the catalog and not in dataset ${dataset}.` +
    hints.map(([n, s]) => ` Did you mean ${s} for "${n}"?`).join('') +
    ` Tables in dataset ${dataset} (${tables.length}): ${tables.join(', ') || 'none'}.` +
    (catalog ? ` Catalog tables (${catalog.path}): ${catalog.tables.map((t) => t.name).join(', ')}.` : '') +
    ' Nothing was changed.'
  );
}
