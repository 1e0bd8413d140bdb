import { quoteIdent, quoteLiteral } from '../sql/quote.js';
import type { ColumnMapping } from './column-mapping.js';

/** A CSV line limit that fits any record of a file of `bytes` bytes (DuckDB's default is 2 MB; its buffer adds 1 MB). */
export function lineLimitFor(bytes: number): number {
  return Math.min(Math.max(bytes + 1024, 2 ** 21), 2 ** 31 - 1 - 2 ** 20);
}

/**
 * read_csv over a file PostgreSQL wrote with COPY … (FORMAT csv): explicit types (no sniffing), NULL is an unquoted
 * empty field, a quoted "" stays an empty string. `maxLineBytes` stays at DuckDB's default unless a record needs
 * more: a large limit makes the reader allocate larger buffers and parse about twice as slowly.
 */
export function readCsvSql(file: string, columns: readonly Pick<ColumnMapping, 'name' | 'csvType'>[], maxLineBytes?: number): string {
  const types = columns.map((c) => `${quoteLiteral(c.name)}: ${quoteLiteral(c.csvType)}`).join(', ');
  return (
    `read_csv(${quoteLiteral(file)}, columns = {${types}}, header = false, auto_detect = false, ` +
    `delim = ',', quote = '"', escape = '"', nullstr = '', allow_quoted_nulls = false, ` +
    `strict_mode = true${maxLineBytes ? `, max_line_size = ${Math.floor(maxLineBytes)}, buffer_size = ${Math.floor(maxLineBytes) + 2 ** 20}` : ''})`
  );
}

/** SELECT list that casts the CSV columns to the destination types. */
export function castList(columns: readonly ColumnMapping[]): string {
  return columns.map((c) => (c.castSql === quoteIdent(c.name) ? c.castSql : `${c.castSql} AS ${quoteIdent(c.name)}`)).join(', ');
}

