import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveAthenaConfig, type AthenaConfig } from './athena-config.js';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { MAX_LAG_SECONDS, MAX_TIMEOUT_SECONDS, parseDuration } from './duration.js';
import { resolveDuckDBSettings, resolveProgressIntervalMs, type DuckDBSettings } from './runtime-settings.js';
import { DEFAULT_CATALOG_PATH } from '../catalog/catalog.js';
import type { ReconcileMode } from '../catalog/reconcile-mode.js';
import { resolveSourceConnection, type SourceConnection } from './source-connection.js';

export type EnvName = 'local' | 'dev' | 'prod';
export const ENV_NAMES: readonly EnvName[] = ['local', 'dev', 'prod'];

/** Tables a flag applies to: none, all the run's tables, or the named ones. */
export type TableSelection = { readonly kind: 'none' } | { readonly kind: 'all' } | { readonly kind: 'tables'; readonly tables: readonly string[] };
/** Which tables a run reloads from scratch. */
export type FullRefresh = TableSelection;

/**
 * The run's key reconciliation (see ReconcileMode): the incremental tables `always` names are reconciled 'always'
 * (late commits, hard deletes); the others `otherwise`: 'auto' (when the row counts disagree), or 'never' with
 * --no-reconcile / INGESTA_RECONCILE=off. A catalog entry's own `reconcile` is weighed in pipeline/resolve-tables.ts.
 */
export interface ReconcileRequest {
  readonly always: TableSelection;
  readonly otherwise: Exclude<ReconcileMode, 'always'>;
}

/** Everything one run needs, resolved once from flags and environment, then frozen. */
export interface RunConfig {
  readonly env: EnvName;
  /** Tables asked for; undefined = every catalog table. */
  readonly tables: readonly string[] | undefined;
  readonly fullRefresh: FullRefresh;
  /** Key reconciliation asked for by the flags (--reconcile, --no-reconcile, INGESTA_RECONCILE): see ReconcileRequest. */
  readonly reconcile: ReconcileRequest;
  readonly catalogPath: string;
  /** Destination dataset: a DuckDB schema locally, a Glue database in the cloud. */
  readonly dataset: string | undefined;
  readonly duckdbPath: string;
  /** DuckDB session settings (INGESTA_DUCKDB_MEMORY_LIMIT, INGESTA_DUCKDB_THREADS), for every DuckDB file ingesta opens. */
  readonly duckdb: DuckDBSettings;
  /** dev/prod: S3 + Athena/Glue settings (undefined for local). */
  readonly athena: AthenaConfig | undefined;
  /** Where load packages (extracted files + manifest) are written before loading. */
  readonly packageDir: string;
  readonly source: SourceConnection;
  /** Default re-read window for incremental tables, in seconds (a catalog table may set its own). */
  readonly lagSeconds: number;
  /** Source protection: per-statement limit, and how long to wait for a lock, in ms (0 = no limit). */
  readonly statementTimeoutMs: number;
  readonly lockTimeoutMs: number;
  /** Source connections reading tables in parallel, all in one exported snapshot (1 = a single connection). */
  readonly maxConnections: number;
  /** Folder the destination schema is exported to after each load (`<dataset>.schema.yaml`); undefined = off. */
  readonly schemaExportDir: string | undefined;
  /** --dry-run: plan and print, write nothing. */
  readonly dryRun: boolean;
  /** Quality gate: off, after the load (--validar-calidad-datos), or instead of it (--solo-validar, read-only). */
  readonly quality: QualityMode;
  /** --cdc (INGESTA_CDC): every table of the run by change data capture (pipeline/cdc-stage.ts). */
  readonly cdc?: boolean;
  /** How often a long phase (load, commit, key scan, backfill, counts, gate) emits a heartbeat (INGESTA_PROGRESS_INTERVAL). */
  readonly progressIntervalMs?: number;
}

export type QualityMode = 'off' | 'after-load' | 'only';

/** Flags as the CLI (or a library caller) gives them; every field optional, env vars fill the rest. */
export const runOptionsSchema = z
  .object({
    env: z.enum(['local', 'dev', 'prod']).optional(),
    tables: z.array(z.string().min(1)).optional(),
    fullRefresh: z.union([z.boolean(), z.array(z.string().min(1))]).optional(),
    reconcile: z.union([z.boolean(), z.array(z.string().min(1))]).optional(),
    catalog: z.string().min(1).optional(),
    dataset: z.string().min(1).optional(),
    duckdbPath: z.string().min(1).optional(),
    packageDir: z.string().min(1).optional(),
    sourceUrl: z.string().min(1).optional(),
    lag: z.string().min(1).optional(),
    statementTimeout: z.string().min(1).optional(),
    lockTimeout: z.string().min(1).optional(),
    maxConnections: z.union([z.number(), z.string()]).optional(),
    /** --validar-calidad-datos */
    validate: z.boolean().optional(),
    /** --solo-validar: takes precedence over validate */
    validateOnly: z.boolean().optional(),
    dryRun: z.boolean().optional(),
    /** --cdc: every table of the run by change data capture. */
    cdc: z.boolean().optional(),
    /** Folder for the schema export; false turns it off. */
    schemaExport: z.union([z.string().min(1), z.literal(false)]).optional(),
  })
  .strict();
export type RunOptions = z.input<typeof runOptionsSchema>;

export const DEFAULT_LAG = '15 minutes';
export const DEFAULT_DUCKDB_PATH = 'data/datavision.duckdb';

// durations are parsed in duration.ts (the settings files beside this one use it too)
export { parseDuration } from './duration.js';

/** Resolves flags + environment into a frozen RunConfig. Throws ConfigError on any bad input. */
export function resolveConfig(options: RunOptions, env: Readonly<Record<string, string | undefined>> = process.env): RunConfig {
  const parsed = runOptionsSchema.safeParse(options);
  if (!parsed.success) {
    throw new ConfigError(`Invalid options: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const o = parsed.data;
  const envName = (o.env ?? env.INGESTA_ENV ?? 'local') as EnvName;
  if (!ENV_NAMES.includes(envName)) {
    throw new ConfigError(`Unknown environment "${envName}". Use --env local, dev or prod.`);
  }
  const dataset = checkedDatasetName(o.dataset ?? nonEmpty(env.INGESTA_DATASET), envName);
  const duckdbPath = o.duckdbPath ?? nonEmpty(env.DUCKDB_PATH) ?? DEFAULT_DUCKDB_PATH;
  if (envName === 'local' && !o.dryRun && /^:memory:/i.test(duckdbPath)) {
    // DuckDB's in-memory database: the run would load, commit, exit 0 and lose everything as the process ends
    throw new ConfigError(`--duckdb-path (DUCKDB_PATH) "${duckdbPath}" is DuckDB's in-memory database: everything loaded would be lost when the run ends. Give a file path (--dry-run shows what a run would do without writing).`);
  }
  const athena = envName === 'local' ? undefined : resolveAthenaConfig(env);
  const packageDir = o.packageDir ?? defaultPackageDir(env, athena !== undefined, duckdbPath);
  const fullRefresh: FullRefresh = selection(o.fullRefresh);
  const reconcileOption = o.reconcile ?? reconcileFromEnv(env.INGESTA_RECONCILE);
  const reconcile = selection(reconcileOption === false ? undefined : reconcileOption);
  // --full-refresh a b / --reconcile a b: those tables are loaded too (as in the original: "recarga completa de tablas");
  // INGESTA_RECONCILE=a,b only says how a and b are loaded when they are (a scheduled task keeps its table list)
  const named = [
    ...(fullRefresh.kind === 'tables' ? fullRefresh.tables : []),
    ...(o.reconcile !== undefined && reconcile.kind === 'tables' ? reconcile.tables : []),
  ];
  const tables = o.tables && o.tables.length > 0 ? unique([...o.tables, ...named]) : named.length > 0 ? unique(named) : undefined;
  return Object.freeze({
    env: envName,
    tables: tables ? Object.freeze(tables) : undefined,
    fullRefresh,
    reconcile: Object.freeze({ always: reconcile, otherwise: reconcileOption === false ? ('never' as const) : ('auto' as const) }),
    catalogPath: o.catalog ?? nonEmpty(env.INGESTA_CATALOG) ?? DEFAULT_CATALOG_PATH,
    dataset,
    duckdbPath,
    duckdb: resolveDuckDBSettings(env),
    athena,
    packageDir,
    source: resolveSourceConnection(env, o.sourceUrl),
    lagSeconds: parseDuration(o.lag ?? nonEmpty(env.INGESTA_LAG) ?? DEFAULT_LAG, 'Lag', MAX_LAG_SECONDS),
    statementTimeoutMs: parseDuration(o.statementTimeout ?? nonEmpty(env.INGESTA_STATEMENT_TIMEOUT) ?? '0', 'Statement timeout', MAX_TIMEOUT_SECONDS) * 1000,
    lockTimeoutMs: parseDuration(o.lockTimeout ?? nonEmpty(env.INGESTA_LOCK_TIMEOUT) ?? '10s', 'Lock timeout', MAX_TIMEOUT_SECONDS) * 1000,
    maxConnections: maxConnections(o.maxConnections ?? nonEmpty(env.INGESTA_MAX_CONNECTIONS)),
    quality: o.validateOnly ? 'only' : o.validate ? 'after-load' : 'off',
    dryRun: o.dryRun ?? false,
    schemaExportDir: schemaExportDir(o.schemaExport, env.INGESTA_SCHEMA_EXPORT),
    cdc: o.cdc ?? ['1', 'true', 'on', 'yes'].includes((env.INGESTA_CDC ?? '').toLowerCase()),
    progressIntervalMs: resolveProgressIntervalMs(env),
  });
}

/**
 * A dataset becomes a DuckDB schema or a Glue database: names that need no quoting anywhere, so one crafted to break
 * out of quotes ('x"; DROP SCHEMA main; --') is refused, not quoted.
 */
export function checkedDatasetName(dataset: string | undefined, envName: EnvName): string | undefined {
  if (dataset !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(dataset)) {
    throw new ConfigError(`Dataset name "${dataset}" is not allowed: use letters, digits and _ (not starting with a digit), at most 63 characters.`);
  }
  if (dataset !== undefined && /^(information_schema|pg_catalog)$/i.test(dataset)) {
    throw new ConfigError(`Dataset name "${dataset}" is not allowed: it is a system schema of DuckDB (and Athena), which holds no tables of its own. Choose another name with --dataset (INGESTA_DATASET).`);
  }
  if (dataset !== undefined && envName !== 'local' && /[A-Z]/.test(dataset)) {
    throw new ConfigError(`Dataset name "${dataset}" is not allowed in ${envName}: Glue and Athena database names are lower case; use "${dataset.toLowerCase()}".`);
  }
  return dataset;
}

/** INGESTA_PACKAGE_DIR, else beside the DuckDB file; a Fargate task's disk is scratch space: dev/prod use the temp folder. */
export function defaultPackageDir(env: Readonly<Record<string, string | undefined>>, cloud: boolean, duckdbPath: string): string {
  return nonEmpty(env.INGESTA_PACKAGE_DIR) ?? (cloud ? path.join(tmpdir(), 'ingesta', 'packages') : path.join(path.dirname(duckdbPath), '.ingesta', 'packages'));
}

/**
 * The library's config (run()): the schema export is written only when asked (`schemaExport: 'dir'`, or
 * INGESTA_SCHEMA_EXPORT): the CLI's default folder (schemas/export, relative to the working folder) would land inside
 * the embedding application.
 */
export function resolveLibraryConfig(options: RunOptions, env: Readonly<Record<string, string | undefined>> = process.env): RunConfig {
  const asked = options.schemaExport !== undefined || nonEmpty(env.INGESTA_SCHEMA_EXPORT) !== undefined;
  return resolveConfig(asked ? options : { ...options, schemaExport: false }, env);
}

/** A table-list flag: absent/false = none, true or no names = all, else the names. */
function selection(value: boolean | readonly string[] | undefined): TableSelection {
  if (value === undefined || value === false) return Object.freeze({ kind: 'none' as const });
  if (value === true || value.length === 0) return Object.freeze({ kind: 'all' as const });
  return Object.freeze({ kind: 'tables' as const, tables: Object.freeze([...value]) });
}

/**
 * INGESTA_RECONCILE: "true"/"all" (every incremental table), "false"/"off" (none, and no automatic reconciliation),
 * or a comma-separated table list; unset/"auto": only the automatic reconciliation.
 */
function reconcileFromEnv(value: string | undefined): boolean | string[] | undefined {
  const v = value?.trim();
  if (!v || v.toLowerCase() === 'auto') return undefined;
  if (['true', 'all', '1', 'yes'].includes(v.toLowerCase())) return true;
  if (['false', 'off', 'none', '0', 'no'].includes(v.toLowerCase())) return false;
  return v.split(',').map((x) => x.trim()).filter(Boolean);
}

export const DEFAULT_SCHEMA_EXPORT_DIR = 'schemas/export';
export const DEFAULT_MAX_CONNECTIONS = 2;

/** 1–8 source connections; a small bound protects the transactional source. */
function maxConnections(value: number | string | undefined): number {
  if (value === undefined) return DEFAULT_MAX_CONNECTIONS;
  const n = typeof value === 'number' ? value : /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 8) throw new ConfigError(`--max-connections must be a whole number from 1 to 8, not "${value}".`);
  return n;
}

/** --schema-export DIR, --no-schema-export, INGESTA_SCHEMA_EXPORT (a folder, or "off"), default schemas/export. */
function schemaExportDir(flag: string | false | undefined, env: string | undefined): string | undefined {
  if (flag === false) return undefined;
  if (flag !== undefined) return flag;
  if (env !== undefined && env !== '') return ['off', 'false', 'no', '0'].includes(env.toLowerCase()) ? undefined : env;
  return DEFAULT_SCHEMA_EXPORT_DIR;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
