/**
 * Part e: the same change (the same number of rows) read incrementally at N/10 and at N, with --no-reconcile and
 * --lag 0, so what is left is the run's fixed cost plus the change; and the automatic reconciliation's counts (one
 * count(*) per incremental table on the source, which grow with the table by design) measured alone.
 */
import type { ChangeRound } from './lib-db.js';
import type { IngestaRun } from './lib-report.js';
import { int, mb, ratio, secs, stats, textTable } from './lib-stats.js';

export interface SameChangeRun {
  readonly size: string;
  readonly change: ChangeRound;
  readonly run: IngestaRun;
  /** psql running `SELECT count(*)` on each incremental table (what the automatic reconciliation adds). */
  readonly countsWallMs: number;
  readonly countsPostgresCpuMs: number;
}

const med = (xs: readonly number[]) => stats(xs)?.median;
const f = (v: number | undefined, fmt: (x: number) => string) => (v === undefined ? '—' : fmt(v));

export function printSameChange(runs: readonly SameChangeRun[], cliStartupMs: number | undefined, print: (s?: string) => void): Record<string, unknown> {
  if (runs.length === 0) return {};
  const sizes = [...new Set(runs.map((r) => r.size))];
  const by = (size: string) => runs.filter((r) => r.size === size);
  const m = Object.fromEntries(
    sizes.map((size) => {
      const xs = by(size);
      return [
        size,
        {
          rowsChanged: med(xs.map((x) => x.change.contents + x.change.contentAttributes)),
          rowsRead: med(xs.map((x) => x.run.rows)),
          wallMs: med(xs.map((x) => x.run.wallMs)),
          inProcessMs: med(xs.flatMap((x) => (x.run.durationMs === null ? [] : [x.run.durationMs]))),
          processCpuMs: med(xs.flatMap((x) => (x.run.cpuMs === null ? [] : [x.run.cpuMs]))),
          postgresCpuMs: med(xs.flatMap((x) => (x.run.cpu ? [x.run.cpu.postgresMs] : []))),
          toRunStartedMs: med(xs.flatMap((x) => (x.run.phases?.toRunStartedMs == null ? [] : [x.run.phases.toRunStartedMs]))),
          loadMs: med(xs.flatMap((x) => (x.run.phases ? [x.run.phases.loadMs] : []))),
          commitMs: med(xs.flatMap((x) => (x.run.phases?.commitMs == null ? [] : [x.run.phases.commitMs]))),
          afterFinishMs: med(xs.flatMap((x) => (x.run.phases?.afterFinishMs == null ? [] : [x.run.phases.afterFinishMs]))),
          peakRssKb: med(xs.flatMap((x) => (x.run.peakRssKb === null ? [] : [x.run.peakRssKb]))),
          countsWallMs: med(xs.map((x) => x.countsWallMs)),
          countsPostgresCpuMs: med(xs.map((x) => x.countsPostgresCpuMs)),
        },
      ];
    }),
  );
  type M = (typeof m)[string];
  const rows: [string, ...string[]][] = [];
  const line = (name: string, g: (x: M) => string) => rows.push([name, ...sizes.map((s) => g(m[s]!))]);
  line('rows changed (same count at both sizes)', (x) => f(x.rowsChanged, int));
  line('rows read', (x) => f(x.rowsRead, int));
  line('incremental --no-reconcile --lag 0 (wall)', (x) => f(x.wallMs, secs));
  line('  … in-process (run_finished)', (x) => f(x.inProcessMs, secs));
  line('  … CPU-s ingesta process', (x) => f(x.processCpuMs, secs));
  line('  … CPU-s PostgreSQL', (x) => f(x.postgresCpuMs, secs));
  line('  … start → run_started (Node, modules, connect, DuckDB open)', (x) => f(x.toRunStartedMs, secs));
  line('  … DuckDB merge of the batch (Σ table loads)', (x) => f(x.loadMs, secs));
  line('  … commit', (x) => f(x.commitMs, secs));
  line('  … run_finished → exit (DuckDB close: checkpoint)', (x) => f(x.afterFinishMs, secs));
  line('  … peak RSS', (x) => f(x.peakRssKb, (kb) => mb(kb)));
  line('automatic reconciliation counts, alone (wall)', (x) => f(x.countsWallMs, secs));
  line('  … CPU-s PostgreSQL', (x) => f(x.countsPostgresCpuMs, secs));
  print('e. the same change at N/10 and N (incremental cost vs table size; medians):');
  print(textTable(['measure', ...sizes], rows, new Set(sizes.map((_, i) => i + 1))));
  const [a, b] = sizes.map((s) => m[s]!);
  const growth = a?.wallMs && b?.wallMs ? b.wallMs / a.wallMs : undefined;
  const cpuGrowth = a?.processCpuMs && b?.processCpuMs ? b.processCpuMs / a.processCpuMs : undefined;
  print(`incremental at N / at N/10: ${f(growth, ratio)} wall, ${f(cpuGrowth, ratio)} CPU of the ingesta process; Node start-up alone (--version) ${f(cliStartupMs, secs)}`);
  return { bySize: m, wallGrowth: growth ?? null, cpuGrowth: cpuGrowth ?? null };
}
