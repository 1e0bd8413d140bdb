import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { parseDuration } from './duration.js';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Session settings of every DuckDB connection ingesta opens (the local destination, and the in-memory one normalize
 * types the Athena destination's Parquet in): a memory limit (DuckDB spills to disk beyond it), so a load's peak RSS stays flat
 * as tables grow (measured on 5.25 M rows: 128 MB → 5.9 s and ≈ 410 MB peak RSS; 64 MB runs out of memory in the CSV
 * reader's buffers), and optionally a thread count.
 */
export interface DuckDBSettings {
  /** INGESTA_DUCKDB_MEMORY_LIMIT, as DuckDB spells a size ("128MB", "1GiB"); default 128MB. */
  readonly memoryLimit: string;
  /** INGESTA_DUCKDB_THREADS; undefined = DuckDB's default (one per core). */
  readonly threads: number | undefined;
  /**
   * INGESTA_PARQUET_FILE_SIZE (dev/prod): a table's Parquet is split into files of about this size (DuckDB starts a
   * new file once a file passes it, so a file ends up to one row group larger); default 256MB.
   */
  readonly parquetFileSize: string;
}

export const DEFAULT_DUCKDB_SETTINGS: DuckDBSettings = Object.freeze({ memoryLimit: '128MB', threads: undefined, parquetFileSize: '256MB' });

const size = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(B|bytes|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'a size such as 128MB, 512MiB or 2GB');
const threads = z
  .string()
  .regex(/^\d+$/, 'a whole number of threads, from 1 to 1024')
  .transform(Number)
  .pipe(z.number().int().min(1, 'at least 1 thread').max(1024, 'at most 1024 threads'));

/** Parses one variable with its schema; a bad value is a ConfigError naming the variable (exit 2). */
function parseVariable<T>(env: Env, name: string, schema: z.ZodType<T, string>): T | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`${name} must be ${parsed.error.issues.map((i) => i.message).join('; ')}, not "${raw}". Fix or unset it; nothing was run.`);
  }
  return parsed.data;
}

/** INGESTA_DUCKDB_MEMORY_LIMIT, INGESTA_DUCKDB_THREADS and INGESTA_PARQUET_FILE_SIZE → DuckDBSettings. */
export function resolveDuckDBSettings(env: Env): DuckDBSettings {
  return Object.freeze({
    memoryLimit: parseVariable(env, 'INGESTA_DUCKDB_MEMORY_LIMIT', size) ?? DEFAULT_DUCKDB_SETTINGS.memoryLimit,
    threads: parseVariable(env, 'INGESTA_DUCKDB_THREADS', threads),
    parquetFileSize: parseVariable(env, 'INGESTA_PARQUET_FILE_SIZE', size) ?? DEFAULT_DUCKDB_SETTINGS.parquetFileSize,
  });
}

/** The S3 dataset lock's timing (dev/prod). */
export interface LockTiming {
  /** How often a live run renews its lock. */
  readonly heartbeatMs: number;
  /** A lock not renewed for this long belongs to a dead run (SIGKILL, OOM, a stopped task) and is taken over. */
  readonly staleMs: number;
}

/** 30 s renewals; stale after 5 minutes without one (ten missed renewals, and room for clock skew between hosts). */
export const DEFAULT_LOCK_TIMING: LockTiming = Object.freeze({ heartbeatMs: 30_000, staleMs: 5 * 60_000 });

/** INGESTA_LOCK_STALE_AFTER (a duration) sets when a silent lock is taken over; renewals every tenth of it, at most 30 s. */
export function resolveLockTiming(env: Env): LockTiming {
  const value = env.INGESTA_LOCK_STALE_AFTER?.trim();
  if (!value) return DEFAULT_LOCK_TIMING;
  const staleMs = parseDuration(value, 'INGESTA_LOCK_STALE_AFTER') * 1000;
  if (!(staleMs >= 1000)) throw new ConfigError(`INGESTA_LOCK_STALE_AFTER must be at least 1 second, not "${value}".`);
  return Object.freeze({ staleMs, heartbeatMs: Math.min(DEFAULT_LOCK_TIMING.heartbeatMs, Math.floor(staleMs / 10)) });
}

/** How long a full table's previous data folder is kept after a newer one replaced it (queries still reading it). */
export const DEFAULT_KEEP_SUPERSEDED_MS = 60 * 60_000;

/** INGESTA_KEEP_SUPERSEDED (a duration, e.g. "2h", or 0) overrides the hour a superseded data folder is kept. */
export function resolveKeepSupersededMs(env: Env): number {
  const value = env.INGESTA_KEEP_SUPERSEDED?.trim();
  if (!value) return DEFAULT_KEEP_SUPERSEDED_MS;
  const ms = parseDuration(value, 'INGESTA_KEEP_SUPERSEDED') * 1000;
  if (!(ms >= 0)) throw new ConfigError(`INGESTA_KEEP_SUPERSEDED must be a duration, not "${value}".`);
  return ms;
}

/**
 * INGESTA_PROGRESS_INTERVAL (a duration, default 10 s, at least 0.1 s): how often a phase still running gets a
 * heartbeat (phase_progress) and a plain progress line repeats.
 */
export function resolveProgressIntervalMs(env: Env): number {
  const interval = env.INGESTA_PROGRESS_INTERVAL?.trim();
  const seconds = interval ? parseDuration(interval, 'INGESTA_PROGRESS_INTERVAL') : 10;
  if (!(seconds > 0)) throw new ConfigError(`INGESTA_PROGRESS_INTERVAL must be more than 0, not "${interval}".`);
  return Math.max(100, Math.round(seconds * 1000));
}
