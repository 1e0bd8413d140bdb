import { quoteIdent, quoteLiteral } from '../sql/quote.js';
import type { ColumnMapping } from './column-mapping.js';

/** DuckDB's default CSV line limit, in bytes: a longer record needs the `line-limit` adjustment (lineLimitFor). */
export const DEFAULT_LINE_LIMIT = 2_000_000;

/** A CSV line limit that fits any record of a file of `bytes` bytes (DuckDB's default is 2 MB; its buffer adds 1 MB). */
export function lineLimitFor(bytes: number): number {
  return Math.min(Math.max(bytes + 1024, 2 ** 21), 2 ** 31 - 1 - 2 ** 20);
}

/** Allocations of at least this size go back to the OS as soon as DuckDB's allocator (jemalloc) frees them. */
const OVERSIZE_ALLOCATION = 2 ** 23;

/**
 * read_csv's buffer size for a session of `memoryLimitBytes` and `threads`: DuckDB's default is 16 times the line
 * limit (32 MB), and each thread holds up to two buffers at once (a record crossing into the next), so 2 threads
 * pinned 128 MB — the whole default limit — and ran out of memory beside the table being written (2 of 10 hard-data
 * loads). Sized so the pinned buffers take a quarter of the limit, at most DuckDB's own 32 MB; rounded up to 8 MiB
 * where that still pins at most half the limit (smaller buffers stay in the allocator once freed: +30–50 MB peak RSS
 * measured with 8,000,000 bytes), else as small as DuckDB allows (just over the default line limit). 128 MB with 2
 * threads → 8 MiB.
 */
export function csvBufferSize(memoryLimitBytes: number, threads: number): number {
  const n = Math.max(1, threads);
  const share = Math.floor(memoryLimitBytes / (8 * n));
  if (share >= OVERSIZE_ALLOCATION) return Math.min(16 * DEFAULT_LINE_LIMIT, share);
  return 4 * n * OVERSIZE_ALLOCATION <= memoryLimitBytes ? OVERSIZE_ALLOCATION : Math.max(DEFAULT_LINE_LIMIT + 2 ** 20, share);
}

/** How a package file is read: the line limit of a table with over-long records, else the buffer size (csvBufferSize). */
export interface CsvReadLimits {
  /** Sized to the file (lineLimitFor) once a record was too long; the buffer is then the limit + 1 MiB. */
  readonly lineLimit?: number | undefined;
  /** read_csv's buffer at DuckDB's default line limit; DuckDB's default (32 MB) when undefined. */
  readonly bufferBytes?: number | undefined;
}

/**
 * read_csv over a file PostgreSQL wrote with COPY … (FORMAT csv): explicit types (no sniffing), NULL is an unquoted
 * empty field, a quoted "" stays an empty string. The line limit stays at DuckDB's default unless a record needs
 * more: a large limit makes the reader allocate larger buffers and parse about twice as slowly.
 */
export function readCsvSql(file: string, columns: readonly Pick<ColumnMapping, 'name' | 'csvType'>[], limits: CsvReadLimits = {}): string {
  const types = columns.map((c) => `${quoteLiteral(c.name)}: ${quoteLiteral(c.csvType)}`).join(', ');
  const line = limits.lineLimit ? Math.floor(limits.lineLimit) : undefined;
  const buffer = line ? line + 2 ** 20 : limits.bufferBytes ? Math.floor(limits.bufferBytes) : undefined;
  return (
    `read_csv(${quoteLiteral(file)}, columns = {${types}}, header = false, auto_detect = false, ` +
    `delim = ',', quote = '"', escape = '"', nullstr = '', allow_quoted_nulls = false, ` +
    `strict_mode = true${line ? `, max_line_size = ${line}` : ''}${buffer ? `, buffer_size = ${buffer}` : ''})`
  );
}

/** SELECT list that casts the CSV columns to the destination types. */
export function castList(columns: readonly ColumnMapping[]): string {
  return columns.map((c) => (c.castSql === quoteIdent(c.name) ? c.castSql : `${c.castSql} AS ${quoteIdent(c.name)}`)).join(', ');
}

