import { DEFAULT_DUCKDB_SETTINGS, type DuckDBSettings } from '../config/runtime-settings.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import { quoteLiteral } from '../sql/quote.js';

/**
 * Session settings of every DuckDB connection ingesta opens: a memory limit (DuckDB spills to disk beyond it), so a
 * load's peak RSS stays flat as tables grow (measured on 5.25 M rows: 128 MB → 5.9 s and ≈ 410 MB peak RSS; 64 MB runs
 * out of memory in the CSV reader's buffers). Resolved with the config (INGESTA_DUCKDB_MEMORY_LIMIT,
 * INGESTA_DUCKDB_THREADS: config/runtime-settings.ts).
 */
export function duckdbSettings({ memoryLimit, threads }: DuckDBSettings = DEFAULT_DUCKDB_SETTINGS): string[] {
  return [
    `SET memory_limit = ${quoteLiteral(memoryLimit)}`,
    // raw tables have no row order: letting DuckDB write them in parallel without keeping the file's order is faster
    'SET preserve_insertion_order = false',
    // (no allocator_bulk_deallocation_flush_threshold below DuckDB's 512 MB: 16 MB cut the peak RSS of 5.25 M rows
    // from ≈ 450 to 340 MB but cost 25–35 % more CPU in munmap/page faults on a quiet machine — bench/README.md)
    ...(threads ? [`SET threads = ${threads}`] : []),
  ];
}

/** DuckDB's display of a size ("122.0 MiB", "1.5 GiB", "512 bytes") in bytes. */
export function parseDuckdbSize(text: string): number {
  const m = /^([\d.]+)\s*(bytes|B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?$/i.exec(text.trim());
  if (!m) return 128 * 2 ** 20;
  const unit = (m[2] ?? 'B').toLowerCase();
  const scale: Record<string, number> = { bytes: 1, b: 1, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12 };
  return Math.round(Number(m[1]) * (scale[unit] ?? 1));
}

/** What a configured session applies, read back from DuckDB: the memory limit in bytes and its thread count. */
export interface SessionLimits {
  readonly memoryLimitBytes: number;
  readonly threads: number;
}

/**
 * Prepares a new connection as every ingesta session is: UTC, then the session settings above. Returns the memory
 * limit DuckDB then applies, in bytes (what memoryLimitSql raises from and restores to), and its threads (the CSV
 * reader's buffer size is sized from both: csvBufferSize).
 */
export async function configureSession(connection: DuckDBConnection, settings?: DuckDBSettings): Promise<SessionLimits> {
  await connection.run("SET TimeZone = 'UTC'");
  for (const setting of duckdbSettings(settings)) await connection.run(setting);
  const row = (await connection.runAndReadAll("SELECT current_setting('memory_limit') AS m, current_setting('threads')::BIGINT AS t")).getRowObjectsJS()[0];
  return { memoryLimitBytes: parseDuckdbSize(String(row?.m ?? '')), threads: Number(row?.t ?? 1) || 1 };
}

/** The session's memory limit set to `bytes` (raised for one table's over-long records, then restored). */
export function memoryLimitSql(bytes: number): string {
  return `SET memory_limit = '${Math.round(bytes)}B'`;
}
