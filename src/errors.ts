/**
 * The few typed errors ingesta raises. Each kind has one exit code, a message that says what failed,
 * where, and what to do, and keeps the underlying driver error as `cause`.
 * Messages never contain a password or secret: callers build them from redacted descriptions only.
 */

export type IngestErrorKind =
  | 'config' // bad flags, env vars, catalog file, unknown table: fix the input
  | 'source' // PostgreSQL unreachable, auth failed, query failed
  | 'data' // a value or schema the destination cannot hold exactly
  | 'destination' // DuckDB/S3/Athena failed or is locked by another run
  | 'quality' // the quality gate found failing checks
  | 'interrupted'; // SIGINT/SIGTERM

/** Exit code per kind: an orchestrator can branch on it. 1 is left for unexpected errors. */
export const EXIT_CODES: Readonly<Record<IngestErrorKind, number>> = Object.freeze({
  config: 2,
  source: 3,
  data: 4,
  destination: 5,
  quality: 6,
  interrupted: 130,
});

export class IngestError extends Error {
  readonly kind: IngestErrorKind;
  constructor(kind: IngestErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = 'IngestError';
  }
  get exitCode(): number {
    return EXIT_CODES[this.kind];
  }
}

export class ConfigError extends IngestError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('config', message, options);
    this.name = 'ConfigError';
  }
}

export class SourceError extends IngestError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('source', message, options);
    this.name = 'SourceError';
  }
}

export class DataError extends IngestError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('data', message, options);
    this.name = 'DataError';
  }
}

export class DestinationError extends IngestError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('destination', message, options);
    this.name = 'DestinationError';
  }
}

/** The quality gate ran and at least one check failed (warnings alone do not raise it). */
export class QualityError extends IngestError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('quality', message, options);
    this.name = 'QualityError';
  }
}

export class InterruptedError extends IngestError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('interrupted', message, options);
    this.name = 'InterruptedError';
  }
}

/** The driver's message of an unknown thrown value, for wrapping into a typed error. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * An error no step turned into a typed one, as the typed error it is where that is known: a cloud service's refusal
 * (an AWS SDK service exception: it carries `$metadata.httpStatusCode`) — access denied, an unknown key, a missing
 * bucket — is a DestinationError (exit 5); DuckDB out of memory outside the steps that retry it (reading the dataset's
 * catalog or state at a very small INGESTA_DUCKDB_MEMORY_LIMIT, the gate's queries) is a DataError (exit 4) naming the
 * variable, as the load's own out-of-memory failures are. `outcome` ends that message (what became of the run's data).
 * Anything else is returned as it was.
 */
export function asTypedError(error: unknown, outcome?: string): unknown {
  if (error instanceof IngestError || !(error instanceof Error)) return error;
  if (/^Out of Memory Error\b/.test(error.message)) {
    return new DataError(
      `DuckDB ran out of memory within its memory limit (${error.message.split('\n')[0]!.trim()}). Raise INGESTA_DUCKDB_MEMORY_LIMIT (default 128MB).` +
        (outcome ? ` ${outcome}` : ''),
      { cause: error },
    );
  }
  const status = (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode;
  if (typeof status !== 'number') return error;
  const code = (error as { Code?: unknown }).Code;
  const name = typeof code === 'string' ? code : error.name;
  return new DestinationError(
    `The cloud destination refused a request (HTTP ${status}, ${name}): ${error.message.split('\n')[0]}. ` +
      'Check the task role or credentials, BUCKET_URL, QUERY_RESULT_BUCKET and the region.',
    { cause: error },
  );
}
