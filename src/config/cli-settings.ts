import { ConfigError } from '../errors.js';
import { resolveProgressIntervalMs } from './runtime-settings.js';

/**
 * The CLI's own settings from the environment (how it prints, where it writes the gate's report files): not part of a
 * run's RunConfig, because the CLI needs them before a config exists (to print a config error) or after the run.
 * Every other INGESTA_* variable is resolved in config.ts / runtime-settings.ts / athena-config.ts.
 */
type Env = Readonly<Record<string, string | undefined>>;

export type LogFormatSetting = 'auto' | 'text' | 'json';
const LOG_FORMATS: readonly LogFormatSetting[] = ['auto', 'text', 'json'];

/** --log-format, else INGESTA_LOG_FORMAT, else auto (text on a terminal, JSON lines elsewhere). */
export function resolveLogFormat(flag: string | undefined, env: Env = process.env): LogFormatSetting {
  const fromEnv = env.INGESTA_LOG_FORMAT?.trim() || undefined;
  const value = flag ?? fromEnv ?? 'auto';
  if (!(LOG_FORMATS as readonly string[]).includes(value)) {
    throw new ConfigError(`${flag !== undefined ? '--log-format' : 'INGESTA_LOG_FORMAT'} must be auto, text or json, not "${value}".`);
  }
  return value as LogFormatSetting;
}

/** INGESTA_DEBUG (any non-empty value): an unexpected error's stack is printed too. */
export function debugEnabled(env: Env = process.env): boolean {
  return Boolean(env.INGESTA_DEBUG);
}

/** --report-json / --report-html, else INGESTA_REPORT_JSON / INGESTA_REPORT_HTML: where the gate's report files go. */
export function resolveReportFiles(
  flags: { readonly json?: string | undefined; readonly html?: string | undefined },
  env: Env = process.env,
): { readonly json: string | undefined; readonly html: string | undefined } {
  return Object.freeze({
    json: flags.json ?? (env.INGESTA_REPORT_JSON || undefined),
    html: flags.html ?? (env.INGESTA_REPORT_HTML || undefined),
  });
}

export type ProgressSetting = 'auto' | 'live' | 'plain' | 'off';
const PROGRESS_MODES: readonly ProgressSetting[] = ['auto', 'live', 'plain', 'off'];

/**
 * How text output shows progress: --progress, else INGESTA_PROGRESS, else auto (live lines when stderr is a terminal,
 * plain lines otherwise); INGESTA_PROGRESS_INTERVAL (default 10s, runtime-settings.ts): how often a plain line repeats for a table in progress.
 */
export function resolveProgress(flag: string | undefined, env: Env = process.env): { readonly mode: ProgressSetting; readonly intervalMs: number } {
  const value = flag ?? (env.INGESTA_PROGRESS?.trim() || undefined) ?? 'auto';
  if (!(PROGRESS_MODES as readonly string[]).includes(value)) {
    throw new ConfigError(`${flag !== undefined ? '--progress' : 'INGESTA_PROGRESS'} must be auto, live, plain or off, not "${value}".`);
  }
  return Object.freeze({ mode: value as ProgressSetting, intervalMs: resolveProgressIntervalMs(env) });
}
