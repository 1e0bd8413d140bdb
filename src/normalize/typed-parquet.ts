import { quoteIdent } from '../sql/quote.js';
import { AdjustmentNeeded, LoadAdjustments } from './adjustments.js';
import { classifyFailure, expectAllRowsRead } from './load-failure.js';
import type { NormalizeSession } from './normalize-session.js';
import { refusedNotes, withTextFallbacks } from './text-fallback.js';
import { typedRelation, typedSource, type CsvTable } from './typed-relation.js';
import { writeParquetParts } from './parquet-parts.js';

/** A package table written as typed Parquet. */
export interface TypedParquet {
  /** The Parquet files, in order (at least one; a table larger than the session's file size is split). */
  readonly files: string[];
  /** Column name and DuckDB type of the typed relation, as DuckDB names it (`TIMESTAMP WITH TIME ZONE`, …). */
  readonly columns: [string, string][];
  /** What the typing decided on its own (a column that became text), for the run's warnings. */
  readonly notes: string[];
}

/**
 * Writes a package table's CSV (`csvFile`) as Parquet files in the folder `parquetDir` (zstd; a new file once one
 * passes the session's parquetFileSize, so Athena reads a large table in parallel; row groups of DuckDB's default
 * 122,880 rows): its typed relation (typed-relation.ts),
 * each column written through `columnSql(name, duckType)` (the destination's spelling of it in Parquet), in one pass
 * with nothing stored in between. A value DuckDB refuses, or a record over the line limit, is met by reading the
 * table again with that adjustment, each at most once (as the DuckDB load does); any other failure is a DataError that
 * quotes no value. No stored table: `table.replaceAll` decides only the warnings' wording.
 */
export async function writeTypedParquet(
  session: NormalizeSession,
  table: CsvTable,
  csvFile: string,
  parquetDir: string,
  columnSql: (name: string, duckType: string) => string,
): Promise<TypedParquet> {
  const found = new LoadAdjustments();
  const none = new Map<string, string>();
  for (;;) {
    const longLines = found.has({ kind: 'line-limit', table: table.name });
    const moreMemory = found.has({ kind: 'memory', table: table.name });
    try {
      const relation = await typedRelation(session, table, csvFile, none, found);
      const source = typedSource(relation);
      const described = await session.query(`DESCRIBE SELECT * FROM ${source}`);
      const columns = described.map((r): [string, string] => [String(r.column_name), String(r.column_type)]);
      const select = columns.map(([name, type]) => `${columnSql(name, type)} AS ${quoteIdent(name)}`);
      const { rows, files } = await writeParquetParts(session, `SELECT ${select.join(', ')} FROM ${source}`, parquetDir, session.parquetFileSize, session.memoryLimitBytes);
      if (table.rows > 0) expectAllRowsRead(table, rows);
      return { files, columns, notes: [...relation.notes, ...refusedNotes(table, none, found)] };
    } catch (cause) {
      const error = classifyFailure(cause, withTextFallbacks(table, none, found), longLines, 'as Parquet for Athena');
      if (!(error instanceof AdjustmentNeeded) || found.has(error.adjustment)) throw error instanceof AdjustmentNeeded ? error.cause : error;
      found.add(error.adjustment);
    } finally {
      if (longLines || moreMemory) await session.restoreMemoryLimit();
    }
  }
}
