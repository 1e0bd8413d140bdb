import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { reconcileOf, type ReconcileMode } from './reconcile-mode.js';
import { parseTableRef, type TableRef } from './table-ref.js';

/** How a table's rows reach the destination. */
export type WriteDisposition = 'replace' | 'merge';

/** One table the catalog declares. Names are the source's, unchanged. */
export interface CatalogTable {
  /** Table name as in the source (and in the destination). */
  readonly name: string;
  /** Source schema (PostgreSQL namespace). */
  readonly schema: string;
  /** Declared key; empty = take the source's primary key (a table with none is loaded in full, duplicates kept). */
  readonly primaryKey: readonly string[];
  readonly writeDisposition: WriteDisposition;
  /** evolve (default): follow the source's schema changes; freeze: any change fails the run before anything is written. */
  readonly schemaContract: SchemaContract;
  /** JSON/array columns unnested into child tables `<table>__<column>`. */
  readonly unnest: readonly string[];
  /**
   * Present for incremental tables: rows with cursor >= last cursor − lag are re-read and merged. `reconcile` (the
   * file's true / false): 'always' = every run also compares all keys with the destination (late commits outside the
   * lag, hard deletes; see --reconcile); 'never' = not even when the row counts disagree; undefined = as the run says
   * (by default when the row counts disagree).
   */
  readonly incremental: { readonly cursorColumn: string; readonly lag: string | undefined; readonly reconcile: ReconcileMode | undefined } | undefined;
  /** `incremental: { method: cdc }`: changes read from PostgreSQL's logical replication (pipeline/cdc-stage.ts). */
  readonly cdc?: boolean;
  /** Column whose max() tells how fresh the table is; undefined = freshness not measured. */
  readonly freshnessColumn: string | undefined;
  readonly freshnessHours: number;
  /** Zone in which a `timestamp without time zone` freshness column was written (default UTC). */
  readonly freshnessTimezone: string;
  /** Severity of each built-in check for this table (defaults, then the table's overrides). */
  readonly severity: Readonly<Record<BuiltInCheck, Severity>>;
  /** Declarative column checks of the raw layer's contract. */
  readonly checks: readonly ColumnCheck[];
}

/** The four checks every table gets. */
export type BuiltInCheck = 'row_count' | 'duplicates' | 'referential_integrity' | 'freshness';
export const BUILT_IN_CHECKS: readonly BuiltInCheck[] = ['row_count', 'duplicates', 'referential_integrity', 'freshness'];
export type Severity = 'fail' | 'warn';
export type SchemaContract = 'evolve' | 'freeze';

/** A column check declared in the catalog: exactly one kind per entry. */
export type ColumnCheck =
  | { readonly kind: 'not_null'; readonly column: string; readonly severity: Severity }
  | { readonly kind: 'unique'; readonly column: string; readonly severity: Severity }
  | { readonly kind: 'accepted_values'; readonly column: string; readonly values: readonly (string | number | boolean)[]; readonly severity: Severity }
  | { readonly kind: 'min' | 'max'; readonly column: string; readonly bound: number | string; readonly severity: Severity };

/** A relationship (foreign key) between two catalog tables, checked for orphans downstream. */
export interface Relationship {
  readonly table: string;
  readonly columns: readonly string[];
  readonly references: string;
  readonly referencedColumns: readonly string[];
}

/** Settings that apply to every table unless it overrides them, also to tables named on the command line only. */
export interface CatalogDefaults {
  readonly schema: string;
  readonly freshnessHours: number;
  readonly freshnessTimezone: string;
  readonly severity: Readonly<Record<BuiltInCheck, Severity>>;
  readonly schemaContract: SchemaContract;
}

export interface Catalog {
  /** File it came from, for messages. */
  readonly path: string;
  readonly datasetPrefix: string;
  readonly defaults: CatalogDefaults;
  readonly tables: readonly CatalogTable[];
  readonly relationships: readonly Relationship[];
}

export const DEFAULT_CATALOG_PATH = fileURLToPath(new URL('../../schemas/datavision.yaml', import.meta.url));

const identifier = z.string().min(1).max(63);
const severity = z.enum(['fail', 'warn']);
const severityMap = z
  .object({ row_count: severity, duplicates: severity, referential_integrity: severity, freshness: severity })
  .partial()
  .strict();
const columnCheck = z
  .object({
    column: identifier,
    not_null: z.literal(true).optional(),
    unique: z.literal(true).optional(),
    accepted_values: z.array(z.union([z.string(), z.number(), z.boolean()])).min(1).optional(),
    min: z.union([z.number(), z.string()]).optional(),
    max: z.union([z.number(), z.string()]).optional(),
    severity: severity.optional(),
  })
  .strict();
const tableSchema = z
  .object({
    schema: identifier.optional(),
    primary_key: z.array(identifier).min(1).optional(),
    write_disposition: z.enum(['replace', 'merge']).default('replace'),
    schema_contract: z.enum(['evolve', 'freeze']).optional(),
    unnest: z.array(identifier).default([]),
    incremental: z
      .object({ method: z.enum(['cursor', 'cdc']).optional(), cursor_column: identifier.optional(), lag: z.string().min(1).optional(), reconcile: z.boolean().optional() })
      .strict()
      .optional(),
    freshness_column: identifier.optional(),
    freshness_hours: z.number().positive().optional(),
    freshness_timezone: z.string().min(1).optional(),
    severity: severityMap.optional(),
    checks: z.array(columnCheck).default([]),
  })
  .strict();

const catalogSchema = z
  .object({
    version: z.literal(1),
    dataset_prefix: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'lower-case letters, digits and _').default('raw'),
    defaults: z
      .object({
        schema: identifier.default('public'),
        freshness_hours: z.number().positive().default(48),
        freshness_timezone: z.string().min(1).default('UTC'),
        severity: severityMap.default({}),
        check_severity: severity.default('fail'),
        schema_contract: z.enum(['evolve', 'freeze']).default('evolve'),
      })
      .strict()
      .default({ schema: 'public', freshness_hours: 48, freshness_timezone: 'UTC', severity: {}, check_severity: 'fail', schema_contract: 'evolve' }),
    tables: z.record(identifier, tableSchema),
    relationships: z
      .array(
        z
          .object({
            table: identifier,
            columns: z.array(identifier).min(1),
            references: identifier,
            referenced_columns: z.array(identifier).min(1),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

const DEFAULT_SEVERITY: Readonly<Record<BuiltInCheck, Severity>> = { row_count: 'fail', duplicates: 'fail', referential_integrity: 'fail', freshness: 'fail' };

function columnCheckOf(path: string, table: string, c: z.infer<typeof columnCheck>, sev: Severity): ColumnCheck {
  const kinds = (['not_null', 'unique', 'accepted_values', 'min', 'max'] as const).filter((k) => c[k] !== undefined);
  if (kinds.length !== 1) {
    throw new ConfigError(
      `Catalog ${path}: table ${table}, check on column ${c.column} must name exactly one of not_null, unique, accepted_values, min, max (found ${kinds.join(', ') || 'none'}).`,
    );
  }
  const kind = kinds[0]!;
  switch (kind) {
    case 'not_null':
    case 'unique':
      return Object.freeze({ kind, column: c.column, severity: sev });
    case 'accepted_values':
      return Object.freeze({ kind, column: c.column, values: Object.freeze([...c.accepted_values!]), severity: sev });
    case 'min':
    case 'max':
      return Object.freeze({ kind, column: c.column, bound: c[kind]!, severity: sev });
  }
}

/** Reads and validates a catalog file (YAML or JSON). Any problem is a ConfigError naming the file and the field. */
export function loadCatalog(path: string = DEFAULT_CATALOG_PATH): Catalog {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`Cannot read the catalog file ${path}: ${(cause as Error).message}. Pass an existing file with --catalog.`, { cause });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (cause) {
    // the YAML parser's message ends with an excerpt of the file over several lines: keep its first line (the reason
    // and the position), so the error stays one line on stderr
    const reason = (cause as Error).message.split('\n')[0]!.replace(/:\s*$/, '');
    throw new ConfigError(`The catalog file ${path} is not valid YAML: ${reason}.`, { cause });
  }
  const parsed = catalogSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigError(`The catalog file ${path} is invalid: ${problems}`);
  }
  const doc = parsed.data;
  const tables: CatalogTable[] = Object.entries(doc.tables).map(([name, t]) => {
    const cdc = t.incremental?.method === 'cdc';
    if (cdc && (t.incremental!.cursor_column !== undefined || t.incremental!.lag !== undefined || t.incremental!.reconcile !== undefined)) {
      throw new ConfigError(`Catalog ${path}: table ${name} has incremental.method cdc, which takes no cursor_column, lag or reconcile (changes come from the WAL).`);
    }
    if (t.incremental && !cdc && t.incremental.cursor_column === undefined) {
      throw new ConfigError(`Catalog ${path}: table ${name} has incremental without cursor_column (or method: cdc).`);
    }
    if (t.write_disposition === 'merge' && !t.incremental) {
      throw new ConfigError(`Catalog ${path}: table ${name} has write_disposition merge but no incremental.cursor_column.`);
    }
    return Object.freeze({
      name,
      schema: t.schema ?? doc.defaults.schema,
      primaryKey: Object.freeze([...(t.primary_key ?? [])]),
      writeDisposition: t.write_disposition,
      schemaContract: t.schema_contract ?? doc.defaults.schema_contract,
      unnest: Object.freeze([...t.unnest]),
      incremental: t.incremental && !cdc
        ? Object.freeze({ cursorColumn: t.incremental.cursor_column!, lag: t.incremental.lag, reconcile: reconcileOf(t.incremental.reconcile) })
        : undefined,
      ...(cdc ? { cdc: true } : {}),
      freshnessColumn: t.freshness_column,
      freshnessHours: t.freshness_hours ?? doc.defaults.freshness_hours,
      freshnessTimezone: t.freshness_timezone ?? doc.defaults.freshness_timezone,
      severity: Object.freeze({ ...DEFAULT_SEVERITY, ...doc.defaults.severity, ...t.severity }),
      checks: Object.freeze(t.checks.map((c) => columnCheckOf(path, name, c, c.severity ?? doc.defaults.check_severity))),
    });
  });
  const names = new Set(tables.map((t) => t.name));
  const relationships: Relationship[] = doc.relationships.map((r) => {
    for (const n of [r.table, r.references]) {
      if (!names.has(n)) throw new ConfigError(`Catalog ${path}: relationship names unknown table ${n}.`);
    }
    if (r.columns.length !== r.referenced_columns.length) {
      throw new ConfigError(`Catalog ${path}: relationship ${r.table} → ${r.references} has ${r.columns.length} columns but ${r.referenced_columns.length} referenced columns.`);
    }
    return Object.freeze({ table: r.table, columns: r.columns, references: r.references, referencedColumns: r.referenced_columns });
  });
  const defaults: CatalogDefaults = Object.freeze({
    schema: doc.defaults.schema,
    freshnessHours: doc.defaults.freshness_hours,
    freshnessTimezone: doc.defaults.freshness_timezone,
    severity: Object.freeze({ ...DEFAULT_SEVERITY, ...doc.defaults.severity }),
    schemaContract: doc.defaults.schema_contract,
  });
  return Object.freeze({ path, datasetPrefix: doc.dataset_prefix, defaults, tables: Object.freeze(tables), relationships: Object.freeze(relationships) });
}

/** A table a run asks for: a catalog entry, or a name to find in the source. */
export type TableRequest = { readonly kind: 'catalog'; readonly table: CatalogTable } | { readonly kind: 'source'; readonly ref: TableRef };

/**
 * The tables a run asks for: catalog entries in catalog order (every entry when no name is given), then names found
 * only in the source, in the order given. A name matches a catalog entry when unquoted and in its schema.
 */
export function requestTables(catalog: Catalog, names: readonly string[] | undefined): TableRequest[] {
  if (!names || names.length === 0) return catalog.tables.map((table) => ({ kind: 'catalog', table }));
  const fromCatalog = new Set<CatalogTable>();
  const fromSource: TableRequest[] = [];
  for (const text of names) {
    const ref = parseTableRef(text);
    const entry = catalog.tables.find(
      (t) => !ref.nameQuoted && t.name === ref.name && (ref.schema === undefined || (!ref.schemaQuoted && t.schema === ref.schema)),
    );
    if (entry) fromCatalog.add(entry);
    else fromSource.push({ kind: 'source', ref });
  }
  return [...catalog.tables.filter((t) => fromCatalog.has(t)).map((table): TableRequest => ({ kind: 'catalog', table })), ...fromSource];
}

/** A table named on the command line only: replace, the source's key, the catalog's defaults. */
export function sourceOnlyTable(catalog: Catalog, schema: string, name: string, primaryKey: readonly string[]): CatalogTable {
  const d = catalog.defaults;
  return Object.freeze({
    name, schema, primaryKey: Object.freeze([...primaryKey]), writeDisposition: 'replace' as const, schemaContract: d.schemaContract,
    unnest: Object.freeze([]), incremental: undefined, freshnessColumn: undefined, freshnessHours: d.freshnessHours,
    freshnessTimezone: d.freshnessTimezone, severity: d.severity, checks: Object.freeze([]),
  });
}

/** Message for a name found neither in the catalog nor in the source: where it was looked for and what exists. */
export function unknownTableMessage(
  catalog: Catalog,
  names: readonly string[],
  source?: { readonly database: string; readonly user: string; readonly tables: readonly string[]; readonly suggest: (name: string) => string | undefined },
): string {
  const MAX_LISTED = 40;
  const hints = source ? names.map((n) => [n, source.suggest(n)] as const).filter(([, s]) => s !== undefined) : [];
  const listed = source
    ? source.tables.length === 0
      ? ` The source database ${source.database} shows user ${source.user} no table at all: check the database and user (DATABASE_URL / PGDATABASE / PGUSER) and the user's SELECT rights.`
      : ` Tables in the source database ${source.database} visible to user ${source.user} (${source.tables.length}): ${source.tables.slice(0, MAX_LISTED).join(', ')}${source.tables.length > MAX_LISTED ? ', …' : ''}.`
    : '';
  return (
    `Unknown table${names.length > 1 ? 's' : ''} ${names.map((n) => `"${n}"`).join(', ')}: not in the catalog and not found in the source.` +
    hints.map(([n, s]) => ` Did you mean ${s} for "${n}"?`).join('') +
    listed +
    ` Catalog tables (${catalog.path}): ${catalog.tables.map((t) => t.name).join(', ')}.`
  );
}
