import { ConfigError } from '../errors.js';

const UNIT_SECONDS: Record<string, number> = {
  ms: 0.001, millisecond: 0.001, milliseconds: 0.001,
  s: 1, sec: 1, secs: 1, second: 1, seconds: 1,
  m: 60, min: 60, mins: 60, minute: 60, minutes: 60,
  h: 3600, hour: 3600, hours: 3600,
  d: 86400, day: 86400, days: 86400,
};

/** "15 minutes", "15m", "1 hour", "0" → seconds. */
export function parseDuration(text: string, what: string): number {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === '0') return 0;
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]+)$/.exec(trimmed);
  const unit = match ? UNIT_SECONDS[match[2]!] : undefined;
  if (!match || unit === undefined) {
    throw new ConfigError(`${what} "${text}" is not a duration. Use a number and a unit, e.g. "15 minutes", "30s", "1h", or 0.`);
  }
  return Number(match[1]) * unit;
}
