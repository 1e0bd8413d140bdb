/**
 * Part a per data profile, side by side: the bare COPY both ways, the full load, and the CPU-seconds of each stage
 * (lib-cpu.ts: PostgreSQL, the Node main thread, the other threads; lib-stages.ts: DuckDB's parse, casts and store
 * measured alone on the same CSV) — the figures that hold when the machine is shared, unlike wall times.
 */
import os from 'node:os';
import type { Generated } from './lib-db.js';
import type { Profile } from './lib-hard.js';
import type { IngestaRun } from './lib-report.js';
import type { StagesResult } from './lib-stages.js';
import { int, mb, ratio, secs, stats, textTable, type Target } from './lib-stats.js';

export interface BareRun {
  readonly wallMs: number;
  /** psql's own CPU (GNU time), summed over the psql processes, ms. */
  readonly clientCpuMs: number;
  /** The backends' CPU, ms. */
  readonly postgresCpuMs: number;
  readonly backends: number;
}

export interface ProfileResult {
  readonly profile: Profile;
  readonly data: Generated;
  readonly warmupBareMs: number;
  /** One psql, one connection, the 8 COPYs one after another. */
  readonly bareSerial: BareRun[];
  /** One psql per table, all at once. */
  readonly bareParallel: BareRun[];
  readonly full: IngestaRun[];
  /** DuckDB's stages alone on this database's load package (lib-stages.ts), after the full loads. */
  stages?: StagesResult;
  /** Why the stages could not be measured. */
  stagesError?: string;
}

/** Full-load targets of the issue: ≤ 1.3 × (generator), ≤ 1.5 × (hard) the bare COPY with one connection per table. */
const LIMIT: Record<Profile, number> = { generator: 1.3, hard: 1.5 };

const med = (xs: readonly number[]): number | undefined => stats(xs)?.median;
const opt = (v: number | undefined, f: (x: number) => string) => (v === undefined || Number.isNaN(v) ? '—' : f(v));

export function printProfiles(profiles: readonly ProfileResult[], print: (s?: string) => void): { targets: Target[]; summary: Record<string, unknown> } {
  const rows: [string, ...string[]][] = [];
  const summary: Record<string, unknown> = {};
  const cols = profiles.map((p) => {
    const full = p.full;
    const cpuRuns = full.flatMap((r) => (r.cpu ? [r.cpu] : []));
    const m = {
      rows: full[0]?.rows ?? p.data.totalRows,
      csvBytes: full[0]?.bytes ?? 0,
      bareSerialMs: med(p.bareSerial.map((b) => b.wallMs)),
      bareParallelMs: med(p.bareParallel.map((b) => b.wallMs)),
      fullMs: med(full.map((r) => r.wallMs)),
      bareSerialPgCpuMs: med(p.bareSerial.map((b) => b.postgresCpuMs)),
      bareParallelPgCpuMs: med(p.bareParallel.map((b) => b.postgresCpuMs)),
      barePsqlCpuMs: med(p.bareParallel.map((b) => b.clientCpuMs)),
      fullPgCpuMs: med(cpuRuns.map((c) => c.postgresMs)),
      fullMainCpuMs: med(cpuRuns.map((c) => c.mainThreadMs)),
      fullOtherCpuMs: med(cpuRuns.map((c) => c.otherThreadsMs)),
      fullProcessCpuMs: med(full.flatMap((r) => (r.cpuMs === null ? [] : [r.cpuMs]))),
      fullPeakRssKb: med(full.flatMap((r) => (r.peakRssKb === null ? [] : [r.peakRssKb]))),
      stagesParseCpuMs: p.stages?.median.parseCpuMs,
      stagesCastsCpuMs: p.stages?.median.castsCpuMs,
      stagesStoreCpuMs: p.stages?.median.storeCpuMs,
      stagesCommitCpuMs: p.stages?.median.commitCpuMs,
      stagesCsvBytes: p.stages?.bytes,
    };
    const duckdbStages = p.stages ? p.stages.median.parseCpuMs + p.stages.median.castsCpuMs + p.stages.median.storeCpuMs : undefined;
    // PostgreSQL and the Node main thread as measured in the full load, DuckDB's part stage by stage measured alone
    const sumOfStages = duckdbStages === undefined || m.fullPgCpuMs === undefined || m.fullMainCpuMs === undefined ? undefined : m.fullPgCpuMs + m.fullMainCpuMs + duckdbStages;
    const fullAllCpu = m.fullPgCpuMs === undefined || m.fullProcessCpuMs === undefined ? undefined : m.fullPgCpuMs + m.fullProcessCpuMs;
    const bareAllCpu = m.bareParallelPgCpuMs === undefined || m.barePsqlCpuMs === undefined ? undefined : m.bareParallelPgCpuMs + m.barePsqlCpuMs;
    const derived = {
      fullOverBareParallel: m.fullMs !== undefined && m.bareParallelMs ? m.fullMs / m.bareParallelMs : undefined,
      fullOverBareSerial: m.fullMs !== undefined && m.bareSerialMs ? m.fullMs / m.bareSerialMs : undefined,
      fullAllCpuMs: fullAllCpu,
      bareAllCpuMs: bareAllCpu,
      cpuOverBare: fullAllCpu !== undefined && bareAllCpu ? fullAllCpu / bareAllCpu : undefined,
      // the least wall time the measured work could take on this machine's cores (every core busy all the time),
      // over the bare COPY's wall: what bounds the full/bare ratio, from CPU-seconds measured and summed
      cpuFloorOverBare: fullAllCpu !== undefined && m.bareParallelMs ? fullAllCpu / os.cpus().length / m.bareParallelMs : undefined,
      stagesDuckdbCpuMs: duckdbStages,
      sumOfStagesCpuMs: sumOfStages,
      sumOfStagesOverFullAll: sumOfStages !== undefined && fullAllCpu ? sumOfStages / fullAllCpu : undefined,
      // the same floor from the stages measured apart: what bounds full / bare, stage by stage
      stagesFloorOverBare: sumOfStages !== undefined && m.bareParallelMs ? sumOfStages / os.cpus().length / m.bareParallelMs : undefined,
      // the same floor without DuckDB's store (parse and casts only), and without DuckDB at all (PostgreSQL and the
      // Node main thread of the full load): what the target would need even if storing, or DuckDB, cost nothing
      floorWithoutStoreOverBare: sumOfStages !== undefined && p.stages && m.bareParallelMs ? (sumOfStages - p.stages.median.storeCpuMs) / os.cpus().length / m.bareParallelMs : undefined,
      floorWithoutDuckdbOverBare: m.fullPgCpuMs !== undefined && m.fullMainCpuMs !== undefined && m.bareParallelMs ? (m.fullPgCpuMs + m.fullMainCpuMs) / os.cpus().length / m.bareParallelMs : undefined,
      stagesMsPerMb: p.stages && p.stages.bytes > 0 ? {
        parse: p.stages.median.parseCpuMs / (p.stages.bytes / 1e6),
        casts: p.stages.median.castsCpuMs / (p.stages.bytes / 1e6),
        store: p.stages.median.storeCpuMs / (p.stages.bytes / 1e6),
      } : undefined,
    };
    summary[p.profile] = { ...m, ...derived, stagesError: p.stagesError ?? null, pairedFullOverBareParallel: full.map((r, i) => r.wallMs / (p.bareParallel[i]?.wallMs ?? NaN)) };
    return { m, d: derived };
  });
  const line = (name: string, f: (c: (typeof cols)[number]) => string) => rows.push([name, ...cols.map(f)]);
  line('rows', (c) => int(c.m.rows));
  line('CSV extracted', (c) => `${(c.m.csvBytes / 1e6).toFixed(0)} MB`);
  line('bare COPY, 1 connection for all 8 tables (wall)', (c) => opt(c.m.bareSerialMs, secs));
  line('bare COPY, 1 connection per table, in parallel (wall)', (c) => opt(c.m.bareParallelMs, secs));
  line('ingesta full load (wall)', (c) => opt(c.m.fullMs, secs));
  line('full / bare, 1 connection per table', (c) => opt(c.d.fullOverBareParallel, ratio));
  line('full / bare, 1 connection', (c) => opt(c.d.fullOverBareSerial, ratio));
  line('CPU-s bare COPY: PostgreSQL, 1 connection', (c) => opt(c.m.bareSerialPgCpuMs, secs));
  line('CPU-s bare COPY: PostgreSQL, per table', (c) => opt(c.m.bareParallelPgCpuMs, secs));
  line('CPU-s bare COPY: psql (per table)', (c) => opt(c.m.barePsqlCpuMs, secs));
  line('CPU-s full load: PostgreSQL backends', (c) => opt(c.m.fullPgCpuMs, secs));
  line('CPU-s full load: Node main thread (JS, COPY transfer)', (c) => opt(c.m.fullMainCpuMs, secs));
  line('CPU-s full load: other threads (DuckDB parse+cast+store)', (c) => opt(c.m.fullOtherCpuMs, secs));
  line('CPU-s full load: ingesta process (GNU time)', (c) => opt(c.m.fullProcessCpuMs, secs));
  line('CPU-s full load, all (PostgreSQL + ingesta)', (c) => opt(c.d.fullAllCpuMs, secs));
  line('CPU-s full / bare (PostgreSQL + client, per table)', (c) => opt(c.d.cpuOverBare, ratio));
  line(`floor: CPU-s of the full load / ${os.cpus().length} cores / bare wall`, (c) => opt(c.d.cpuFloorOverBare, ratio));
  const cores = os.cpus().length;
  line('CPU-s DuckDB stages alone: parse (read_csv, all VARCHAR)', (c) => opt(c.m.stagesParseCpuMs, secs));
  line('CPU-s DuckDB stages alone: casts (typed read − parse)', (c) => opt(c.m.stagesCastsCpuMs, secs));
  line('CPU-s DuckDB stages alone: store (CREATE TABLE AS − typed read, + COMMIT)', (c) => opt(c.m.stagesStoreCpuMs, secs));
  line('  … of store: the COMMIT (one thread; the tables were transaction-local)', (c) => opt(c.m.stagesCommitCpuMs, secs));
  line('CPU-s DuckDB stages alone: parse + casts + store', (c) => opt(c.d.stagesDuckdbCpuMs, secs));
  line('DuckDB stages per MB of CSV: parse / casts / store', (c) => (c.d.stagesMsPerMb ? [c.d.stagesMsPerMb.parse, c.d.stagesMsPerMb.casts, c.d.stagesMsPerMb.store].map((x) => x.toFixed(1)).join(' / ') + ' ms' : '—'));
  line('CPU-s sum of stages (PostgreSQL + Node main + parse + casts + store)', (c) => opt(c.d.sumOfStagesCpuMs, secs));
  line('sum of stages / CPU-s full load, all', (c) => opt(c.d.sumOfStagesOverFullAll, ratio));
  line('CPU-s in no stage: full load, all − sum of stages', (c) => opt(c.d.fullAllCpuMs === undefined || c.d.sumOfStagesCpuMs === undefined ? undefined : c.d.fullAllCpuMs - c.d.sumOfStagesCpuMs, secs));
  line(`floor from the stages: sum of stages / ${cores} cores / bare wall`, (c) => opt(c.d.stagesFloorOverBare, ratio));
  line('  … the same without the store (PostgreSQL + Node main + parse + casts)', (c) => opt(c.d.floorWithoutStoreOverBare, ratio));
  line('  … the same without DuckDB (PostgreSQL + Node main of the full load)', (c) => opt(c.d.floorWithoutDuckdbOverBare, ratio));
  line('full load peak RSS', (c) => opt(c.m.fullPeakRssKb, mb));
  print('a. full load vs bare COPY, per data profile (medians; CPU-seconds from /proc, independent of other load):');
  print(textTable(['measure', ...profiles.map((p) => p.profile)], rows, new Set(profiles.map((_, i) => i + 1))));
  for (const p of profiles) if (p.stagesError) print(`${p.profile}: DuckDB stages not measured: ${p.stagesError}`);
  const targets: Target[] = profiles.map((p, i) => ({
    name: `full load ≤ ${LIMIT[p.profile]} × bare COPY (${p.profile})`,
    value: cols[i]?.d.fullOverBareParallel,
    limit: LIMIT[p.profile],
    comparison: '<=',
    format: ratio,
    note: 'median full / median bare, 1 connection per table',
  }));
  return { targets, summary };
}
