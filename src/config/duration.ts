import { ConfigError } from '../errors.js';

const UNIT_SECONDS: Record<string, number> = {
  ms: 0.001, millisecond: 0.001, milliseconds: 0.001,
  s: 1, sec: 1, secs: 1, second: 1, seconds: 1,
  m: 60, min: 60, mins: 60, minute: 60, minutes: 60,
  h: 3600, hour: 3600, hours: 3600,
  d: 86400, day: 86400, days: 86400,
};

/** The longest timeout PostgreSQL accepts (lock_timeout, statement_timeout: milliseconds in an int), in seconds. */
export const MAX_TIMEOUT_SECONDS = 2_147_483.647;
/** The longest lag ingesta takes: 100 years (far past any real one; a lag of 10⁹ days overflowed PostgreSQL's interval). */
export const MAX_LAG_SECONDS = 36_500 * 86_400;

/** "15 minutes", "15m", "1 hour", "0" → seconds; longer than `maxSeconds` (where given) is a configuration error. */
export function parseDuration(text: string, what: string, maxSeconds?: number): number {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === '0') return 0;
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/.exec(trimmed);
  const unit = match ? UNIT_SECONDS[match[2]!] : undefined;
  if (!match || unit === undefined) {
    throw new ConfigError(`${what} "${text}" is not a duration. Use a number and a unit, e.g. "15 minutes", "30s", "1h", or 0.`);
  }
  const seconds = Number(match[1]) * unit;
  if (maxSeconds !== undefined && !(seconds <= maxSeconds)) {
    throw new ConfigError(`${what} "${text}" is longer than the ${describeSeconds(maxSeconds)} it can be. Use a shorter duration.`);
  }
  return seconds;
}

function describeSeconds(seconds: number): string {
  return seconds >= 365 * 86_400 ? `${Math.floor(seconds / (365 * 86_400))} years` : `${Math.floor(seconds / 86_400)} days`;
}
