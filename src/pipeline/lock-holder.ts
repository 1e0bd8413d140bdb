import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { DatasetSettings } from '../config/dataset-settings.js';
import { DestinationError, messageOf } from '../errors.js';
import type { Manifest } from '../package/load-package.js';
import { ownerIsAlive } from '../package/package-owner.js';
import { packageRoot } from '../package/package-root.js';

/** An ingesta run that is writing a DuckDB file now, found by its load package's owner record. */
interface Holder {
  readonly runId: string;
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
  readonly state: string;
}

/** The live runs whose packages (under the package folder) are for this DuckDB file, any dataset. */
function liveRuns(settings: DatasetSettings): Holder[] {
  const holders: Holder[] = [];
  const list = (dir: string) => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  for (const dataset of list(settings.packageDir)) {
    const root = packageRoot({ athena: undefined, duckdbPath: settings.duckdbPath, packageDir: settings.packageDir }, dataset);
    for (const runId of list(root)) {
      try {
        const manifest = JSON.parse(readFileSync(path.join(root, runId, 'manifest.json'), 'utf8')) as Manifest;
        if (manifest.owner && ownerIsAlive(manifest.owner)) {
          holders.push({ runId: manifest.runId, pid: manifest.owner.pid, host: manifest.owner.host, startedAt: manifest.createdAt, state: manifest.state });
        }
      } catch {
        // a package being written, or not a package: not a holder we can name
      }
    }
  }
  return holders;
}

/** The program a process runs, never its arguments (they may hold a password): "node main.js", "duckdb". */
function programOf(pid: number): string | undefined {
  try {
    const [program, script] = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (!program) return undefined;
    return [path.basename(program), ...(script && /^[^-].*\.[cm]?[jt]s$/.test(script) ? [path.basename(script)] : [])].join(' ');
  } catch {
    return undefined;
  }
}

/**
 * DuckDB lets no other process open a file, not even read-only, while a writer holds it (its lock is per file). For
 * `status` and `reset`, that error names the ingesta run holding the file (its package's owner: run id, pid, host,
 * start) or, failing that, the process DuckDB names, and what to do. Any other error is returned as it was.
 */
export function explainLockedFile(error: unknown, settings: DatasetSettings, command: 'status' | 'reset'): unknown {
  if (!(error instanceof DestinationError) || !/in use by another process/.test(error.message)) return error;
  const pid = Number(/PID (\d+)/.exec(messageOf(error.cause))?.[1] ?? NaN);
  const runs = liveRuns(settings);
  const run = runs.find((r) => r.pid === pid) ?? (Number.isNaN(pid) && runs.length === 1 ? runs[0] : undefined);
  const what = command === 'status' ? 'status cannot read it' : 'reset cannot change it';
  const file = settings.duckdbPath;
  if (run) {
    return new DestinationError(
      `The DuckDB file ${file} is being written by ingesta run ${run.runId} (pid ${run.pid} on ${run.host}, started ${run.startedAt}, package ${run.state}), ` +
        `and DuckDB lets no other process open a file while a run writes it, so ${what} now. ` +
        `Run ingesta ${command} again when that run has finished (or stop it: kill -TERM ${run.pid} cancels it cleanly, committing nothing).`,
      { cause: error },
    );
  }
  const program = Number.isNaN(pid) ? undefined : programOf(pid);
  const holder = Number.isNaN(pid) ? 'another process' : `process ${pid}${program ? ` (${program})` : ''}`;
  return new DestinationError(
    `The DuckDB file ${file} is held by ${holder}: an ingesta run still starting (no load package yet), a DuckDB client, or another program; ` +
      `DuckDB lets no other process open a file while one writes it, so ${what} now. Run ingesta ${command} again once it has finished or been closed.`,
    { cause: error },
  );
}
