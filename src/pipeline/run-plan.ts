import { loadCatalog, requestTables, type Catalog, type TableRequest } from '../catalog/catalog.js';
import type { RunConfig } from '../config/config.js';

/** The dataset a run writes to: --dataset, else <catalog prefix>_<env> (raw_datavision_local). */
export function datasetName(config: Pick<RunConfig, 'dataset' | 'env'>, catalog: Catalog): string {
  return config.dataset ?? `${catalog.datasetPrefix}_${config.env}`;
}

/**
 * Everything a run resolves before touching the source or the destination: flags, catalog, table names as typed.
 * Names outside the catalog are found in the source by `resolveTables`, first thing after connecting.
 */
export interface RunPlan {
  readonly config: RunConfig;
  readonly catalog: Catalog;
  readonly requests: readonly TableRequest[];
  readonly dataset: string;
}

export function planRun(config: RunConfig): RunPlan {
  const catalog = loadCatalog(config.catalogPath);
  return { config, catalog, requests: requestTables(catalog, config.tables), dataset: datasetName(config, catalog) };
}
