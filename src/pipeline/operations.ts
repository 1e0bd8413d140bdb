import { datasetName } from './run-plan.js';
import type { DatasetSettings } from '../config/dataset-settings.js';
import { createDestination } from '../destination/create-destination.js';
import { ConfigError } from '../errors.js';
import { catalogOrReason, existingDatasets, unknownDatasetError, unknownResetTables } from './dataset-choice.js';
import { explainLockedFile } from './lock-holder.js';

export { datasetStatus, type StatusReport, type DatasetStatusReport, type TableStatusRow } from './status.js';

export interface ResetResult {
  readonly dataset: string;
  /** Tables whose cursor was forgotten: their next run is a full load. */
  readonly reset: readonly string[];
  /** Tables named that had no cursor (full tables, or never loaded). */
  readonly unchanged: readonly string[];
}

/**
 * `ingesta reset --tables …`: forgets the incremental cursors of those tables, so their next run is a full load.
 * Takes the destination's lock like a load (it writes state); the data itself is left as it is. The dataset is
 * --dataset, else the catalog's (raw_datavision_<env>) when the destination holds it, else the only one it holds. A
 * name that is neither in the catalog nor in the dataset is a ConfigError (exit 2) and nothing is changed.
 */
export async function resetTables(settings: DatasetSettings, tables: readonly string[]): Promise<ResetResult> {
  if (tables.length === 0) throw new ConfigError('ingesta reset needs --tables with the tables whose incremental state to forget.');
  const available = await existingDatasets(settings, 'reset');
  const read = catalogOrReason(settings);
  const catalog = 'catalog' in read ? read.catalog : undefined;
  const fromCatalog = catalog ? datasetName({ dataset: settings.dataset, env: settings.env }, catalog) : undefined;
  const dataset =
    settings.dataset ?? (fromCatalog && available.includes(fromCatalog) ? fromCatalog : available.length === 1 ? available[0] : undefined);
  if (dataset === undefined) {
    throw new ConfigError(`${available.length} datasets are there (${available.join(', ')}): name the one to reset with --dataset. Nothing was changed.`);
  }
  if (!available.includes(dataset)) throw unknownDatasetError(dataset, available, settings);
  const destination = await createDestination(settings, dataset);
  try {
    await destination.open().catch((error: unknown) => {
      throw explainLockedFile(error, settings, 'reset');
    });
    const state = await destination.readState();
    const inDataset = [...new Set([...(await destination.existingTables()), ...state.keys()])].filter((t) => !t.startsWith('_ingesta_')).sort();
    const known = new Set([...inDataset, ...(catalog?.tables.map((t) => t.name) ?? [])].map((t) => t.toLowerCase()));
    const unknown = tables.filter((t) => !known.has(t.toLowerCase()));
    if (unknown.length > 0) throw new ConfigError(unknownResetTables(unknown, dataset, inDataset, catalog));
    // a name is found without case (as above, and as a run's --tables DD finds dd): the cursor is stored under the
    // table's own spelling (regression: reset --tables DD said "no incremental state for DD", exit 0, and dd's
    // cursor stayed)
    const stored = [...state.keys()];
    const named = [...new Set(tables.map((t) => (state.has(t) ? t : (stored.find((k) => k.toLowerCase() === t.toLowerCase()) ?? t))))];
    const reset = await destination.history.resetState(named);
    return { dataset, reset, unchanged: named.filter((t) => !reset.includes(t)) };
  } finally {
    await destination.close();
  }
}
