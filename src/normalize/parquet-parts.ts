import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { quoteLiteral } from '../sql/quote.js';
import { parseDuckdbSize } from './duckdb-settings.js';

/** What writes the Parquet: a DuckDB session that runs a statement and returns the rows it wrote. */
export interface ParquetWriter {
  run(sql: string): Promise<number>;
}

/**
 * Row groups: DuckDB's default 122,880 rows, but at most a quarter of a file, 64 MB, and a sixteenth of the session's
 * memory limit. Each writer thread buffers its row group several times over (values, dictionary, compression): with
 * 16 MB row groups 96 MB of wide rows ran out of memory at the default 128 MB limit; with 8 MB they fit (and wrote
 * faster). A larger INGESTA_DUCKDB_MEMORY_LIMIT gives larger row groups.
 */
const MAX_ROW_GROUP_BYTES = 64e6;
const MEMORY_PER_ROW_GROUP = 16;

/**
 * Writes the rows of `select` as zstd Parquet files into the folder `dir` (emptied first): DuckDB starts a new file
 * once the current one passes `fileSize` (a size as DuckDB spells it: "256MB"), so a file ends up at most one row
 * group larger. Returns the rows written and the files in order (part-0, part-1, …; an empty result is one file that
 * holds the schema). Needs the session's preserve_insertion_order = false (every ingesta session has it).
 */
export async function writeParquetParts(writer: ParquetWriter, select: string, dir: string, fileSize: string, memoryLimitBytes: number): Promise<{ rows: number; files: string[] }> {
  rmSync(dir, { recursive: true, force: true });
  const rowGroupBytes = Math.max(2 ** 12, Math.floor(Math.min(MAX_ROW_GROUP_BYTES, parseDuckdbSize(fileSize) / 4, memoryLimitBytes / MEMORY_PER_ROW_GROUP)));
  const rows = await writer.run(
    `COPY (${select}) TO ${quoteLiteral(dir)} (FORMAT parquet, COMPRESSION zstd, FILE_SIZE_BYTES ${quoteLiteral(fileSize)}, ` +
      `ROW_GROUP_SIZE_BYTES ${rowGroupBytes}, FILENAME_PATTERN 'part-{i}')`,
  );
  return { rows, files: parquetParts(dir) };
}

/** The Parquet files of a folder written by writeParquetParts, in order. */
export function parquetParts(dir: string): string[] {
  const index = (name: string) => Number(/^part-(\d+)\.parquet$/.exec(name)?.[1] ?? NaN);
  return readdirSync(dir)
    .filter((name) => Number.isInteger(index(name)))
    .sort((a, b) => index(a) - index(b))
    .map((name) => path.join(dir, name));
}
