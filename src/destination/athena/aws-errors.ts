/**
 * How ingesta reads errors thrown by the AWS SDK v3 (S3, Athena, Glue), and the one retry loop every AWS call of
 * the Athena destination goes through.
 *
 * An SDK v3 service error is an `Error` whose `name` is the service's error code (`ThrottlingException`,
 * `EntityNotFoundException`, …), with `$metadata.httpStatusCode`, `$fault` and, for errors the service models as
 * retryable, `$retryable`. A network failure is a plain Node error with `code` (`ECONNRESET`, …). Both are read here
 * without ever stringifying a request: SDK errors carry no credentials, and nothing else is added to messages.
 *
 * Note: the SDK client retries on its own too (3 attempts in its default `standard` mode); `withRetries` is the outer,
 * longer-horizon budget that survives a burst of throttling (Athena's `TooManyRequestsException` is common).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { DestinationError, InterruptedError, messageOf } from '../../errors.js';

/** Error names and codes worth another try: throttling, a service's transient failure, a dropped connection. */
const TRANSIENT_NAMES: ReadonlySet<string> = new Set([
  // throttling
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'SlowDown',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'ProvisionedThroughputExceededException',
  'BandwidthLimitExceeded',
  // the service had a transient problem
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalServerException',
  'InternalServiceException', // Glue's spelling
  'InternalServerError',
  'InternalFailure',
  'InternalError',
  'OperationTimeoutException', // Glue
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError', // the SDK's own request timeout
  // the connection dropped
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
]);

const TRANSIENT_STATUS: ReadonlySet<number> = new Set([429, 500, 502, 503, 504]);
const NOT_FOUND_NAMES: ReadonlySet<string> = new Set(['EntityNotFoundException', 'NoSuchKey', 'NotFound']);

interface ErrorFields {
  name?: unknown;
  Code?: unknown;
  code?: unknown;
  message?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

function fields(err: unknown): ErrorFields | undefined {
  return typeof err === 'object' && err !== null ? (err as ErrorFields) : undefined;
}

/** Every identifier an error carries: SDK `name`, XML `Code`, Node `code`. */
function namesOf(err: unknown): string[] {
  const e = fields(err);
  if (!e) return [];
  return [e.name, e.Code, e.code].filter((v): v is string => typeof v === 'string' && v !== '');
}

function statusOf(err: unknown): number | undefined {
  const status = fields(err)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

/**
 * The AWS error code of an error, for messages: `ThrottlingException`, `AccessDeniedException`, `ECONNRESET`;
 * `Error` when it has none.
 */
export function awsErrorName(err: unknown): string {
  return namesOf(err).find((n) => n !== 'Error') ?? (fields(err) ? 'Error' : typeof err);
}

/**
 * Whether trying the same call again may succeed: throttling, a 5xx or 429, a dropped connection, or an error the
 * SDK marks `$retryable`. Anything else (access denied, validation, not found) is terminal.
 */
export function isTransientAwsError(err: unknown): boolean {
  const e = fields(err);
  if (!e) return false;
  if (e.$retryable) return true;
  if (namesOf(err).some((n) => TRANSIENT_NAMES.has(n))) return true;
  const status = statusOf(err);
  if (status !== undefined && TRANSIENT_STATUS.has(status)) return true;
  return typeof e.message === 'string' && /socket hang up/i.test(e.message);
}

/** Whether the thing asked for does not exist: Glue `EntityNotFoundException`, S3 `NoSuchKey`/`NotFound`, HTTP 404. */
export function isNotFound(err: unknown): boolean {
  return namesOf(err).some((n) => NOT_FOUND_NAMES.has(n)) || statusOf(err) === 404;
}

/** Whether a create call found the thing already there: Glue's `AlreadyExistsException`. */
export function isAlreadyExists(err: unknown): boolean {
  return namesOf(err).includes('AlreadyExistsException');
}

/**
 * Waits `ms`, returning early (without throwing) when `signal` aborts; the caller checks `signal.aborted` next.
 * `sleep` replaces the real timer (tests pass `async () => {}`).
 */
export async function pause(ms: number, signal?: AbortSignal, sleep?: (ms: number) => Promise<void>): Promise<void> {
  if (signal?.aborted) return;
  if (!sleep) {
    await delay(ms, undefined, signal ? { signal } : undefined).catch(() => undefined);
    return;
  }
  if (!signal) return sleep(ms);
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([sleep(ms), aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** Full jitter: a random wait in [0, min(maxMs, baseMs · 2^(retry-1))]. */
export function backoffMs(retry: number, baseMs: number, maxMs: number): number {
  return Math.random() * Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
}

/** Options of {@link withRetries}. */
export interface RetryOptions {
  /** Calls in all, the first included (default 5). */
  attempts?: number;
  /** Backoff base in ms (default 200). */
  baseMs?: number;
  /** Backoff cap in ms (default 10 000). */
  maxMs?: number;
  /** Replaces the real timer (tests). */
  sleep?: (ms: number) => Promise<void>;
  /** Stops retrying: an aborted signal makes the loop throw InterruptedError before the next call. */
  signal?: AbortSignal;
}

/**
 * Runs `fn`, calling it again after a full-jitter exponential backoff while it fails with a transient AWS error
 * ({@link isTransientAwsError}), at most `attempts` calls in all. A terminal error is rethrown as it is, at once,
 * for the caller to classify (not found, already exists, …). When the budget is spent, throws a DestinationError
 * `<what> failed after N attempts: <error name>: <message>` with the last error as `cause`. An aborted `signal`
 * throws InterruptedError before the next call.
 */
export async function withRetries<T>(what: string, fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, Math.floor(opts.attempts ?? 5));
  const baseMs = opts.baseMs ?? 200;
  const maxMs = opts.maxMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    if (opts.signal?.aborted) throw new InterruptedError(`${what} was interrupted.`, { cause: opts.signal.reason });
    try {
      return await fn();
    } catch (error) {
      if (!isTransientAwsError(error)) throw error;
      if (attempt >= attempts) {
        throw new DestinationError(`${what} failed after ${attempt} attempts: ${awsErrorName(error)}: ${messageOf(error)}`, {
          cause: error,
        });
      }
      await pause(backoffMs(attempt, baseMs, maxMs), opts.signal, opts.sleep);
    }
  }
}
