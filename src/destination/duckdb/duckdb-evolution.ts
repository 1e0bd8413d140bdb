import { DataError } from '../../errors.js';
import type { PackageTable } from '../../package/load-package.js';
import type { ColumnMapping } from '../../normalize/column-mapping.js';
import { describeChange, diffColumns, type ColumnNaming } from '../../schema/schema-evolution.js';
import { schemaFrozenError } from '../../schema/schema-contract.js';
import { tableSchemaDoc, versionHash } from '../../schema/schema-document.js';
import { quoteIdent } from '../../sql/quote.js';
import type { DuckDBFile } from './duckdb-connection.js';
import { readCsvSql } from '../../normalize/csv-read.js';
import type { NumericStats } from '../../normalize/numeric-measure.js';
import { textNote } from '../../normalize/text-fallback.js';
import { SCHEMA_TABLE } from './duckdb-sql.js';
import { cannotChange, cannotChangeError, mergeNumeric } from './duckdb-type-policy.js';

/** DuckDB's identifiers ignore case (caseSensitiveIdentifiers: false): `title` and `Title` name one column. */
export const DUCKDB_NAMING: ColumnNaming = { caseSensitive: false };

/** Where a table's package file is and how it is read (the line limit of an over-long record, if any). */
export interface PackageFile {
  readonly file: string;
  readonly lineLimit: number | undefined;
}

/** A stored DECIMAL(38,s) of an unconstrained numeric that this load measured at another scale: not a contract change. */
function isMeasuredDecimal(columns: readonly ColumnMapping[], name: string, existing: ReadonlyMap<string, string>): boolean {
  const c = columns.find((x) => x.name === name);
  return c?.guard === 'unconstrained_numeric' && /^DECIMAL\(38,\d+\)$/.test(existing.get(name) ?? '') && /^DECIMAL\(38,\d+\)$/.test(c.destinationType);
}

/** The error of a value a column cannot change for (see cannotChangeError), with the package file read as text. */
function cannotChangeErrorOf(db: DuckDBFile, table: PackageTable, from: PackageFile, column: ColumnMapping, current: string, why: 'freeze' | 'key'): Promise<DataError> {
  const allText = table.rows > 0 ? readCsvSql(from.file, table.columns.map((c) => ({ name: c.name, csvType: 'VARCHAR' })), { lineLimit: from.lineLimit, bufferBytes: db.csvBufferBytes }) : undefined;
  return cannotChangeError((sql) => db.query(sql), allText, table, column, current, why);
}

/**
 * schema_contract freeze: an existing table's columns must stay as they are (a measured numeric's new scale aside).
 * Throws the contract's error; a value that would turn a column into text names its row's key.
 */
export async function checkFrozen(db: DuckDBFile, table: PackageTable, existing: ReadonlyMap<string, string>, measured: readonly ColumnMapping[], from: PackageFile): Promise<void> {
  const changes = diffColumns(existing, measured, DUCKDB_NAMING).filter((c) => c.kind !== 'widened' || !isMeasuredDecimal(measured, c.column, existing));
  // a value no stored type holds: the column would have to become text, which the contract forbids
  const toText = changes.map((c) => measured.find((m) => m.name === c.column && m.guard !== undefined && m.destinationType === 'VARCHAR' && c.kind === 'widened'));
  const refused = toText.find((m) => m !== undefined);
  if (refused) throw await cannotChangeErrorOf(db, table, from, refused, existing.get(refused.name)!, 'freeze');
  if (changes.length > 0) throw schemaFrozenError(table.name, changes);
}

/**
 * Merge tables follow the source's shape in place: an added column is added (NULL in older rows), a widened type is
 * altered (every stored value converts exactly), an unconstrained numeric whose new values need more scale is
 * widened when every stored value still fits, a dropped column stays (NULL in new rows). Any other type change
 * needs a full refresh. Returns the columns as the table now declares them; a column that became text adds a note.
 */
export async function evolveColumns(
  db: DuckDBFile,
  table: PackageTable,
  existing: ReadonlyMap<string, string>,
  columns: ColumnMapping[],
  from: PackageFile,
  numericStats: ReadonlyMap<string, NumericStats>,
  notes: string[],
): Promise<ColumnMapping[]> {
  const target = db.ref.table(table.name);
  existing = await followRenames(db, target, existing, columns);
  const result: ColumnMapping[] = [];
  for (const c of columns) {
    const current = existing.get(c.name);
    // an unconstrained numeric keeps its scale, changes it, or becomes exact text (see duckdb-type-policy.ts)
    if (current !== undefined && c.guard === 'unconstrained_numeric' && /^(DECIMAL\(38,\d+\)|VARCHAR)$/.test(current)) {
      const merge = await mergeNumeric((sql) => db.query(sql), target, c, current, numericStats.get(c.name));
      if (merge.kind === 'text' && current !== 'VARCHAR') {
        const why = cannotChange(table, c);
        if (why) throw await cannotChangeErrorOf(db, table, from, c, current, why);
        notes.push(textNote(table.name, c, true));
      }
      if (merge.kind === 'rescale') await db.run(`ALTER TABLE ${target} ALTER COLUMN ${quoteIdent(c.name)} TYPE ${merge.column.destinationType}`);
      result.push(merge.column);
      continue;
    }
    result.push(c);
  }
  for (const change of diffColumns(existing, result, DUCKDB_NAMING)) {
    const q = quoteIdent(change.column);
    if (change.kind === 'added') await db.run(`ALTER TABLE ${target} ADD COLUMN ${q} ${change.to}`);
    else if (change.kind === 'widened') await db.run(`ALTER TABLE ${target} ALTER COLUMN ${q} TYPE ${change.to}`);
    else if (change.kind === 'incompatible') {
      throw new DataError(
        `${describeChange(table.name, change)}. Run with --full-refresh ${table.name} to rebuild the table; nothing was written.`,
      );
    }
  }
  return result;
}

/**
 * A column the source now spells with other capitals is the same DuckDB column: renamed to the new spelling in place
 * (its values kept), so the rest compares it as usual. Returns the columns as the table now names them.
 */
async function followRenames(db: DuckDBFile, target: string, existing: ReadonlyMap<string, string>, columns: readonly ColumnMapping[]): Promise<ReadonlyMap<string, string>> {
  const renames = new Map<string, string>();
  for (const change of diffColumns(existing, columns, DUCKDB_NAMING)) {
    if (change.kind !== 'renamed') continue;
    await db.run(`ALTER TABLE ${target} RENAME COLUMN ${quoteIdent(change.previousName)} TO ${quoteIdent(change.column)}`);
    renames.set(change.previousName, change.column);
  }
  return renames.size === 0 ? existing : new Map([...existing].map(([name, type]) => [renames.get(name) ?? name, type]));
}

/** Adds a row to `_ingesta_schema` when a table's schema (columns, types, names, key) differs from its last version. */
export async function recordSchema(
  db: DuckDBFile,
  runId: string,
  table: PackageTable,
  name: string,
  mapping: readonly ColumnMapping[],
  unnestedFrom?: { table: string; column: string },
): Promise<void> {
  const doc = tableSchemaDoc(
    {
      table: name, source: `${table.sourceSchema}.${table.sourceName}`, writeDisposition: table.writeDisposition,
      primaryKey: table.primaryKey, ...(unnestedFrom ? { unnestedFrom } : {}),
    },
    await db.describeTable(name),
    mapping,
  );
  const hash = versionHash(doc);
  const [last] = await db.query(`SELECT version_hash FROM ${db.ref.table(SCHEMA_TABLE)} WHERE table_name = $1 ORDER BY recorded_at DESC LIMIT 1`, [name]);
  if (last?.version_hash === hash) return;
  await db.run(`INSERT INTO ${db.ref.table(SCHEMA_TABLE)} VALUES ($1, $2, $3::JSON, $4, now())`, [name, hash, JSON.stringify(doc), runId]);
}
