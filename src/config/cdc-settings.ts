import { ConfigError } from '../errors.js';

/** Default WAL a CDC slot may retain before `ingesta status` warns: 1 GB. */
export const DEFAULT_CDC_WAL_WARNING_BYTES = 1024 ** 3;

/**
 * INGESTA_CDC_WAL_WARNING: how much WAL a replication slot may hold back on the source before `ingesta status` warns
 * (bytes, or with a unit: 512MB, 2GB; default 1GB). A slot nobody reads keeps every WAL segment from its position on.
 */
export function cdcWalWarningBytes(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const raw = env.INGESTA_CDC_WAL_WARNING?.trim();
  if (!raw) return DEFAULT_CDC_WAL_WARNING_BYTES;
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB)?$/i.exec(raw);
  if (!m) throw new ConfigError(`INGESTA_CDC_WAL_WARNING must be a size such as 1GB, 512MB or 1073741824, not "${raw}".`);
  const unit = (m[2] ?? 'B').toUpperCase();
  const factor = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 }[unit as 'B']!;
  return Math.round(Number(m[1]) * factor);
}
