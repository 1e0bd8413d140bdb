import { quoteIdent } from '../sql/quote.js';
import type { ColumnAdjustment, LoadAdjustments } from './adjustments.js';
import { MEMORY_RETRY_FACTOR } from './adjustments.js';
import type { ColumnMapping, MappedTable } from './column-mapping.js';
import { lineLimitFor, readCsvSql } from './csv-read.js';
import { assumeNumerics, measureNumerics, type NumericStats } from './numeric-measure.js';
import { asText, textFallbacks, textNote } from './text-fallback.js';

/**
 * The typing step of a package table (dlt's "normalize"): from its CSV file and its column mappings to the typed
 * DuckDB relation both destinations load from. Each column is read with its declared type, except where an
 * adjustment says otherwise (adjustments.ts): a text fallback (a value DuckDB refused in an earlier attempt, a merge
 * table's column that is text already), or an unconstrained numeric measured on the file (DECIMAL(38, s), or exact
 * text when no DECIMAL holds every value). Values stay PostgreSQL's text until DuckDB casts them.
 */

/** What the typing step needs of a package table. */
export interface CsvTable extends MappedTable {
  /** Rows extracted into the file (an empty table is not read). */
  readonly rows: number;
  /** Size of the file, for the line limit of an over-long record. */
  readonly bytes: number;
}

/** The DuckDB connection the typing step measures on (DuckDBFile, NormalizeSession). */
export interface TypingSession {
  query(sql: string): Promise<Record<string, unknown>[]>;
  /** Raises the session's memory limit to at least `bytes` for this table's read; the caller restores it. */
  raiseMemoryLimit(bytes: number): Promise<void>;
  /** The configured memory limit (INGESTA_DUCKDB_MEMORY_LIMIT) in bytes, as DuckDB applies it. */
  readonly memoryLimitBytes: number;
  /** read_csv's buffer size for the configured limit and threads (csvBufferSize); undefined: DuckDB's default. */
  readonly csvBufferBytes: number | undefined;
}

export interface TypedRelation {
  /** The columns as read: CSV type, cast and destination type after the adjustments. */
  readonly columns: ColumnMapping[];
  /** Every column read other than its mapping declares, by name. */
  readonly adjustments: ReadonlyMap<string, ColumnAdjustment>;
  /** What measuring found of each unconstrained numeric (a merge table compares it with its stored scale). */
  readonly stats: Map<string, NumericStats>;
  /** The CSV line limit of a table with over-long records, else undefined (DuckDB's default). */
  readonly lineLimit: number | undefined;
  /** read_csv of the file with these columns' CSV types; undefined for a table without rows. */
  readonly read: (columns: readonly Pick<ColumnMapping, 'name' | 'csvType'>[]) => string | undefined;
  /** What the typing decided on its own (a column that became text), for the run's warnings. */
  readonly notes: string[];
}

/**
 * Types a package table read from `file`: text fallbacks (`found` by failed attempts, or `existing`: the stored table's
 * column types), a line limit sized to the file when an earlier attempt met an over-long record (the memory limit is
 * raised with it: reading such a record needs about four buffers of it), then the unconstrained numerics: assumed to
 * fit and checked as the file is read once (assumeNumerics), or, once that failed (`found`) or when the stored table
 * says it would, measured on the CSV itself first (one more pass over the file).
 */
export async function typedRelation(session: TypingSession, table: CsvTable, file: string, existing: ReadonlyMap<string, string>, found: LoadAdjustments): Promise<TypedRelation> {
  const lineLimit = found.has({ kind: 'line-limit', table: table.name }) ? lineLimitFor(table.bytes) : undefined;
  const read = (columns: readonly Pick<ColumnMapping, 'name' | 'csvType'>[]) => (table.rows > 0 ? readCsvSql(file, columns, { lineLimit, bufferBytes: session.csvBufferBytes }) : undefined);
  const memory = found.has({ kind: 'memory', table: table.name });
  if (lineLimit || memory) await session.raiseMemoryLimit(Math.max(lineLimit ? 4 * (lineLimit + 2 ** 20) : 0, memory ? MEMORY_RETRY_FACTOR * session.memoryLimitBytes : 0));
  const memoryNotes = memory ? [memoryNote(session.memoryLimitBytes)] : [];
  const fallbacks = textFallbacks(table, existing, found);
  const declared = table.columns.map((c) => (fallbacks.has(c.name) ? asText(c) : c));
  if (table.rows === 0) return { columns: declared, adjustments: fallbacks, stats: new Map(), lineLimit, read, notes: memoryNotes };
  const assumed = found.has({ kind: 'measure', table: table.name }) ? undefined : assumeNumerics({ columns: declared, replaceAll: table.replaceAll }, existing);
  const measured = assumed ?? (await measureNumerics((sql) => session.query(sql), { columns: declared }, read(declared)!));
  // a full load notes a column that became text (a merge table's is noted where the stored column changes)
  const notes = measured.columns
    .filter((c) => c.guard === 'unconstrained_numeric' && c.destinationType === 'VARCHAR' && measured.stats.has(c.name) && table.replaceAll)
    .map((c) => textNote(table.name, c, false));
  return { columns: measured.columns, adjustments: new Map([...fallbacks, ...measured.adjustments]), stats: measured.stats, lineLimit, read, notes: [...memoryNotes, ...notes] };
}

/** What a run says when a table was read again with a raised memory limit. */
function memoryNote(limitBytes: number): string {
  const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;
  return (
    `DuckDB ran out of memory within the ${mb(limitBytes)} memory limit; the load was started over with ${mb(MEMORY_RETRY_FACTOR * limitBytes)} for this table. ` +
    `Raise INGESTA_DUCKDB_MEMORY_LIMIT to spare the second read.`
  );
}

/** The SELECT list that casts the CSV columns to their destination types, each column named as in the destination. */
export function typedSelectList(columns: readonly ColumnMapping[]): string[] {
  return columns.map((c) => `CAST(${c.castSql} AS ${c.destinationType}) AS ${quoteIdent(c.name)}`);
}

/** The typed relation as a subquery: the CSV read with `columns`, or (no rows) an empty relation of their types. */
export function typedSource(relation: Pick<TypedRelation, 'columns' | 'read'>): string {
  const source = relation.read(relation.columns);
  if (source) return `(SELECT ${typedSelectList(relation.columns).join(', ')} FROM ${source})`;
  return `(SELECT ${relation.columns.map((c) => `CAST(NULL AS ${c.destinationType}) AS ${quoteIdent(c.name)}`).join(', ')} LIMIT 0)`;
}
