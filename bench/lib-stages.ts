/**
 * DuckDB's stages of a full load, measured apart (issue #16: "the CPU-seconds of each stage, measured and summed — not
 * an estimate"). The full load's /proc figures (lib-cpu.ts) split ingesta's process only into its main thread and the
 * rest; this measures the rest's DuckDB work stage by stage on the very CSV files ingesta writes:
 *   1. a load package: the CLI's full load with INGESTA_CRASH_AT=after-extract (src/faults/crash-points.ts: it
 *      SIGKILLs itself once every table's CSV and the manifest are written; the package stays in
 *      <folder>/.ingesta/packages/<dataset>/<destination>/<run id>/);
 *   2. a process of its own per round (lib-stages-child.ts) times, per table, in CPU-seconds of that process and wall:
 *      a. parse (every column read as VARCHAR into count() of each), b. parse + casts (the load's typed read), c. parse
 *      + casts + store (the load's CREATE TABLE AS, all tables in one transaction, then the commit on one thread);
 *      casts = b − a, store = c − b + the commit;
 *   3. the folder (package, DuckDB files) is removed, also on failure.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runMeasured } from './lib-proc.js';
import type { ProjectionCheck, StagesChildResult, StagesRound } from './lib-stages-child.js';
import { stats } from './lib-stats.js';

/** One round's totals over the tables, ms. */
export interface StagesTotals {
  readonly parseCpuMs: number;
  readonly castsCpuMs: number;
  /** CREATE TABLE AS over the typed read, plus the commit. */
  readonly storeCpuMs: number;
  /** The commit alone (part of storeCpuMs). */
  readonly commitCpuMs: number;
  readonly parseWallMs: number;
  readonly castsWallMs: number;
  readonly storeWallMs: number;
}

export interface StagesResult {
  readonly rows: number;
  readonly bytes: number;
  /** DuckDB's session as the load's: threads, memory limit, the CSV reader's buffer. */
  readonly threads: number;
  readonly memoryLimitBytes: number;
  readonly csvBufferBytes: number;
  /** Wall of the CLI run that wrote the package (extraction, then killed). */
  readonly packageMs: number;
  /** Per round, the totals over the tables. */
  readonly totals: StagesTotals[];
  /** Medians over the rounds. */
  readonly median: StagesTotals;
  /** Per round and table, as measured (lib-stages-child.ts). */
  readonly rounds: StagesRound[];
  readonly projectionCheck: ProjectionCheck | undefined;
  /** Tables whose unconstrained numerics had to be measured first (the checked cast refused a value). */
  readonly measuredTables: string[];
  /** Per round, GNU time's CPU of its measuring process (start-up and setup included), ms: the check on the sums. */
  readonly processCpuMs: (number | null)[];
}

export interface StagesOptions {
  readonly root: string;
  readonly cli: string;
  readonly sourceUrl: string;
  /** A new folder of its own; removed afterwards. */
  readonly dir: string;
  readonly rounds: number;
  readonly env: NodeJS.ProcessEnv;
  readonly rssFile: string;
  readonly timeoutMs: number;
}

function findManifest(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name === 'manifest.json') return path;
    if (entry.isDirectory()) {
      const found = findManifest(path);
      if (found) return found;
    }
  }
  return undefined;
}

function totalsOf(round: StagesRound): StagesTotals {
  const sum = (f: (t: StagesRound['tables'][number]) => number) => round.tables.reduce((a, t) => a + f(t), 0);
  return {
    parseCpuMs: sum((t) => t.parse.cpuMs),
    castsCpuMs: sum((t) => t.parseCasts.cpuMs - t.parse.cpuMs),
    storeCpuMs: sum((t) => t.parseCastsStore.cpuMs - t.parseCasts.cpuMs) + round.commit.cpuMs,
    commitCpuMs: round.commit.cpuMs,
    parseWallMs: sum((t) => t.parse.wallMs),
    castsWallMs: sum((t) => t.parseCasts.wallMs - t.parse.wallMs),
    storeWallMs: sum((t) => t.parseCastsStore.wallMs - t.parseCasts.wallMs) + round.commit.wallMs,
  };
}

/** Writes a load package of the database's full load, then measures DuckDB's stages on it (see above). */
export async function measureStages(o: StagesOptions): Promise<StagesResult> {
  try {
    const args = [o.cli, '--env', 'local', '--log-format', 'json', '--source-url', o.sourceUrl, '--duckdb-path', join(o.dir, 'stages.duckdb'), '--full-refresh'];
    const extract = await runMeasured(process.execPath, args, { cwd: o.root, env: { ...o.env, INGESTA_CRASH_AT: 'after-extract' }, discardStdout: true, rssFile: o.rssFile, timeoutMs: o.timeoutMs });
    const manifestPath = findManifest(join(o.dir, '.ingesta', 'packages'));
    const manifest = manifestPath ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as { state?: string; tables?: { rows: number; bytes: number }[] }) : undefined;
    if (!manifestPath || manifest?.state !== 'extracted') {
      throw new Error(`the extract (killed after it) left no complete load package (exit ${extract.exitCode ?? extract.signal}): ${extract.stderr.trim().slice(-500)}`);
    }
    // the DuckDB file of the killed run holds an uncommitted load: gone before measuring, so only the package is read
    for (const f of ['stages.duckdb', 'stages.duckdb.wal']) rmSync(join(o.dir, f), { force: true });
    const children: StagesChildResult[] = [];
    const processCpuMs: (number | null)[] = [];
    for (let round = 0; round < o.rounds; round++) {
      const child = await runMeasured(process.execPath, ['--import', 'tsx', join(o.root, 'bench', 'lib-stages-child.ts'), manifestPath, o.dir, String(round)], {
        cwd: o.root,
        env: o.env,
        rssFile: o.rssFile,
        timeoutMs: o.timeoutMs,
      });
      const line = child.stdout.trim().split('\n').pop() ?? '';
      if (child.exitCode !== 0 || !line.startsWith('{')) throw new Error(`measuring the stages failed (exit ${child.exitCode ?? child.signal}): ${child.stderr.trim().slice(-1000)}`);
      children.push(JSON.parse(line) as StagesChildResult);
      processCpuMs.push(child.cpuMs);
    }
    const r = children[0]!;
    const rounds = children.map((c) => c.round);
    const totals = rounds.map(totalsOf);
    const med = (k: keyof StagesTotals) => stats(totals.map((t) => t[k]))?.median ?? NaN;
    const median: StagesTotals = {
      parseCpuMs: med('parseCpuMs'), castsCpuMs: med('castsCpuMs'), storeCpuMs: med('storeCpuMs'), commitCpuMs: med('commitCpuMs'),
      parseWallMs: med('parseWallMs'), castsWallMs: med('castsWallMs'), storeWallMs: med('storeWallMs'),
    };
    const tables = manifest.tables ?? [];
    return {
      rows: tables.reduce((a, t) => a + t.rows, 0),
      bytes: tables.reduce((a, t) => a + t.bytes, 0),
      threads: r.threads,
      memoryLimitBytes: r.memoryLimitBytes,
      csvBufferBytes: r.csvBufferBytes,
      packageMs: extract.wallMs,
      totals,
      median,
      rounds,
      projectionCheck: r.projectionCheck,
      measuredTables: [...new Set(rounds.flatMap((x) => x.tables.filter((t) => t.measured).map((t) => t.table)))],
      processCpuMs,
    };
  } finally {
    rmSync(o.dir, { recursive: true, force: true });
  }
}
