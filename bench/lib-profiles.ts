/**
 * Part a per data profile, side by side: the bare COPY both ways, the full load, and the CPU-seconds of each stage
 * (lib-cpu.ts) — the figures that hold when the machine is shared, unlike wall times.
 */
import os from 'node:os';
import type { Generated } from './lib-db.js';
import type { Profile } from './lib-hard.js';
import type { IngestaRun } from './lib-report.js';
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
    };
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
    };
    summary[p.profile] = { ...m, ...derived, pairedFullOverBareParallel: full.map((r, i) => r.wallMs / (p.bareParallel[i]?.wallMs ?? NaN)) };
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
  line('full load peak RSS', (c) => opt(c.m.fullPeakRssKb, mb));
  print('a. full load vs bare COPY, per data profile (medians; CPU-seconds from /proc, independent of other load):');
  print(textTable(['measure', ...profiles.map((p) => p.profile)], rows, new Set(profiles.map((_, i) => i + 1))));
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
