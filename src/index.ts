/** ingesta's library API: the CLI is a thin layer over these. */
export { run, validate, dryRun, runPlan, planRun, datasetName, type RunHooks, type RunPlan } from './pipeline/run.js';
export type { DryRunPlan } from './pipeline/dry-run.js';
export { datasetStatus, resetTables, type StatusReport } from './pipeline/operations.js';
export { writeJsonReport, writeHtmlReport, renderHtmlReport } from './quality/report-files.js';
export type { QualityReport } from './pipeline/events.js';
export type { CheckResult, CheckStatus } from './quality/check-types.js';
export type { PipelineEvent, RunSummary, TableSummary, EventListener, TableMode } from './pipeline/events.js';
export { resolveConfig, parseDuration, DEFAULT_LAG, DEFAULT_DUCKDB_PATH, type RunConfig, type RunOptions, type EnvName } from './config/config.js';
export { resolveSourceConnection, describeSource, type SourceConnection } from './config/source-connection.js';
export { loadCatalog, requestTables, DEFAULT_CATALOG_PATH, type Catalog, type CatalogTable, type Relationship, type TableRequest } from './catalog/catalog.js';
export { parseTableRef, splitTableList, type TableRef } from './catalog/table-ref.js';
export type { Destination, DestinationCapabilities, TableState, TableLoadResult } from './destination/destination.js';
export { DuckDBDestination } from './destination/duckdb/duckdb-destination.js';
export { mapColumn, type ColumnMapping } from './normalize/column-mapping.js';
export type { SourceColumn } from './source/postgres/source-column.js';
export { datavisionSql, expectedRowCounts, DATAVISION_TABLES, type GeneratorOptions } from './demo/datavision-generator.js';
export { startEmbeddedPostgres, type EmbeddedPostgres } from './demo/embedded-postgres.js';
export { IngestError, ConfigError, SourceError, DataError, DestinationError, InterruptedError, EXIT_CODES, type IngestErrorKind } from './errors.js';
