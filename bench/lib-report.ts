/** The benchmark's result shape, the printed report and the summary stored in bench/results/latest.json. */
import type { ChangeRound, Generated, Machine } from './lib-db.js';
import type { CpuBreakdown } from './lib-cpu.js';
import type { DiskUse } from './lib-disk.js';
import { printProfiles, type BareRun, type ProfileResult } from './lib-profiles.js';
import { printSameChange, type SameChangeRun } from './lib-incremental.js';
import { int, mb, measureTable, pct, ratio, secs, stats, targetTable, textTable, verdict, type Measure, type Target } from './lib-stats.js';

export interface IngestaRun {
  readonly wallMs: number;
  readonly peakRssKb: number | null;
  /** User + system CPU of the ingesta process (not PostgreSQL's), ms. */
  readonly cpuMs: number | null;
  readonly exitCode: number;
  /** Sums over the run's extract_finished events. */
  readonly rows: number;
  readonly bytes: number;
  readonly extractMs: number;
  /** run_finished summary.durationMs (in-process, without Node start-up); null for --solo-validar. */
  readonly durationMs: number | null;
  readonly extracts: readonly { table: string; rows: number; bytes: number; ms: number }[];
  readonly modes: Record<string, string>;
  readonly quality: Record<string, number> | null;
  /** CPU-seconds per stage (/proc), when measured. */
  readonly cpu?: CpuBreakdown;
  /** The load package's peak and leftover size and the DuckDB file's size (lib-disk.ts). */
  readonly disk?: DiskUse;
  /** Where the wall time went, from the run's events (runPhases). */
  readonly phases?: RunPhases;
}

/**
 * A run's wall time by phase, from its events: spawn → run_started (Node's start-up, module loading, the source
 * connection, resolving the tables, opening the destination), the loads into the destination (Σ table_load_finished)
 * and the commit, and run_finished → exit (closing the destination: DuckDB's checkpoint).
 */
export interface RunPhases {
  readonly toRunStartedMs: number | null;
  readonly loadMs: number;
  readonly commitMs: number | null;
  readonly afterFinishMs: number | null;
}

export function runPhases(r: { spawnedAtMs: number; endedAtMs: number }, ev: { runStartedAtMs: number | undefined; runFinishedAtMs: number | undefined; loadMs: number; commitMs: number | undefined }): RunPhases {
  return {
    toRunStartedMs: ev.runStartedAtMs === undefined ? null : ev.runStartedAtMs - r.spawnedAtMs,
    loadMs: ev.loadMs,
    commitMs: ev.commitMs ?? null,
    afterFinishMs: ev.runFinishedAtMs === undefined ? null : r.endedAtMs - ev.runFinishedAtMs,
  };
}

export interface IncRound {
  readonly change: ChangeRound;
  readonly inc: IngestaRun;
  readonly full2: IngestaRun;
  /** The bare COPY of the changed rows (updated_at >= the change's start), one psql per table. */
  readonly filtered: BareRun;
  readonly order: string[];
}

export interface Results {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  /** os.loadavg() (1, 5, 15 min) when the bench started and ended: other work on the machine skews the figures. */
  readonly loadAverage: { start: number[]; end: number[] };
  readonly options: Record<string, unknown>;
  readonly machine: Machine;
  readonly rssMethod: string;
  readonly build: { exitCode: number };
  readonly data: { big: Generated | null; small: Generated | null };
  readonly profiles: readonly ProfileResult[];
  readonly runs: {
    psqlStartup: number[];
    cliStartup: number[];
    /** `node -e 0`: Node's own start-up, without ingesta's modules. */
    nodeStartup: number[];
    bare: number[];
    full: IngestaRun[];
    soloValidate: IngestaRun[];
    fullValidate: IngestaRun[];
    incremental: IncRound[];
    smallFull: IngestaRun[];
    sameChange: SameChangeRun[];
  };
}

const med = (xs: readonly number[]): number | undefined => stats(xs)?.median;
const div = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined || b === 0 ? undefined : a / b);
const sum = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined ? undefined : a + b);
const rss = (runs: readonly IngestaRun[]): number[] => runs.flatMap((r) => (r.peakRssKb === null ? [] : [r.peakRssKb]));
const cpu = (runs: readonly IngestaRun[]): number[] => runs.flatMap((r) => (r.cpuMs === null ? [] : [r.cpuMs]));
const wall = (runs: readonly IngestaRun[]): number[] => runs.map((r) => r.wallMs);
const disk = (runs: readonly IngestaRun[], k: keyof DiskUse): number[] => runs.flatMap((r) => (r.disk ? [r.disk[k]] : []));
const mbytes = (b: number): string => `${(b / 1e6).toFixed(0)} MB`;

/** Prints the report; returns the summary (medians, derived figures, targets with verdicts) for the JSON file. */
export function printReport(r: Results): Record<string, unknown> {
  const { machine: m, data, runs } = r;
  const inc = runs.incremental.map((x) => x.inc);
  const full2 = runs.incremental.map((x) => x.full2);
  const print = (s = '') => console.log(s);

  print();
  print('== ingesta benchmark ==');
  print(`machine     ${m.cpu}, ${m.cpus} CPUs, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB RAM, ${m.kernel}`);
  print(`software    Node ${m.node}; DuckDB ${m.duckdb}; ${m.postgres.split(' on ')[0]}`);
  print(`            ${m.postgres}`);
  const la = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
  print(`load avg    ${la(r.loadAverage.start)} at start, ${la(r.loadAverage.end)} at end (1/5/15 min; other work skews the figures)`);
  if (Math.max(r.loadAverage.start[0] ?? 0, r.loadAverage.end[0] ?? 0) > m.cpus / 2) {
    print(`WARNING     the machine was busy (1-min load average above ${m.cpus / 2}): figures are inflated and noisy`);
  }
  print(`bench took  ${(r.durationMs / 60000).toFixed(1)} min`);
  print(`peak RSS    ${r.rssMethod}; MB = 10^6 bytes`);
  const gen = (g: Generated) =>
    `${g.database}: ${int(g.accounts)} accounts, ${int(g.totalRows)} rows, ${(g.sizeBytes / 1e6).toFixed(0)} MB on disk; ` +
    `generated in ${secs(g.generateMs)} + VACUUM ANALYZE ${secs(g.vacuumMs)}`;
  for (const p of r.profiles) print(`data        ${p.profile}: ${gen(p.data)}`);
  if (data.small) print(`            ${gen(data.small)}`);
  for (const p of r.profiles) print(`            ${p.profile} rows: ${Object.entries(p.data.rows).map(([t, n]) => `${t} ${int(n)}`).join(', ')}`);
  print(`rounds      ${r.options.repeat} paired, alternating; warm-up bare COPY (not counted) ${r.profiles.map((p) => `${p.profile} ${secs(p.warmupBareMs)}`).join(', ')}`);
  print();
  const profileSummary = printProfiles(r.profiles, print);
  print();

  const inProcess = (runs: readonly IngestaRun[]) => runs.flatMap((x) => (x.durationMs === null ? [] : [x.durationMs]));
  const measures: Measure[] = [
    { key: 'psqlSelect1Ms', name: '   psql -c "SELECT 1" (one connection, fixed cost)', values: runs.psqlStartup, format: secs },
    { key: 'cliVersionMs', name: '   node dist/cli/main.js --version (fixed cost)', values: runs.cliStartup, format: secs },
    { key: 'nodeStartupMs', name: '   node -e 0 (Node\'s own start-up)', values: runs.nodeStartup, format: secs },
    { key: 'bareCopyMs', name: 'a. bare psql COPY, 8 tables, 1 connection each (wall)', values: runs.bare, format: secs },
    { key: 'fullLoadMs', name: 'a. ingesta full load, 8 tables (wall)', values: wall(runs.full), format: secs },
    { key: 'fullLoadInProcessMs', name: '   … in-process duration (run_finished)', values: inProcess(runs.full), format: secs },
    { key: 'fullLoadExtractMs', name: '   … of which extract (Σ extract_finished ms)', values: runs.full.map((x) => x.extractMs), format: secs },
    { key: 'fullLoadCpuMs', name: '   … CPU of the ingesta process (user + sys)', values: cpu(runs.full), format: secs },
    { key: 'fullLoadPeakRssKb', name: '   … peak RSS', values: rss(runs.full), format: mb },
    { key: 'fullLoadPackagePeakBytes', name: '   … load package on disk, peak (MB)', values: disk(runs.full, 'packagePeakBytes'), format: mbytes },
    { key: 'fullLoadDuckdbBytes', name: '   … DuckDB file after the load (MB)', values: disk(runs.full, 'duckdbBytes'), format: mbytes },
    { key: 'incrementalMs', name: 'b. incremental after 1 % change, 2 tables, --no-reconcile (wall)', values: wall(inc), format: secs },
    { key: 'incrementalInProcessMs', name: '   … in-process duration (run_finished)', values: inProcess(inc), format: secs },
    { key: 'incrementalCpuMs', name: '   … CPU of the ingesta process (user + sys)', values: cpu(inc), format: secs },
    { key: 'incrementalToRunStartedMs', name: '   … start → run_started (Node, modules, connect, DuckDB open)', values: inc.flatMap((x) => (x.phases?.toRunStartedMs == null ? [] : [x.phases.toRunStartedMs])), format: secs },
    { key: 'incrementalLoadMs', name: '   … DuckDB merge of the batch (Σ table loads)', values: inc.flatMap((x) => (x.phases ? [x.phases.loadMs] : [])), format: secs },
    { key: 'incrementalAfterFinishMs', name: '   … run_finished → exit (DuckDB close: checkpoint)', values: inc.flatMap((x) => (x.phases?.afterFinishMs == null ? [] : [x.phases.afterFinishMs])), format: secs },
    { key: 'incrementalRowsRead', name: '   … rows read', values: inc.map((x) => x.rows), format: int },
    { key: 'incrementalPeakRssKb', name: '   … peak RSS', values: rss(inc), format: mb },
    { key: 'filteredCopyMs', name: 'b. bare COPY of the changed rows (updated_at filter, 1 connection per table)', values: runs.incremental.map((x) => x.filtered.wallMs), format: secs },
    { key: 'fullTwoTablesMs', name: 'b. full load of the same 2 tables (wall)', values: wall(full2), format: secs },
    { key: 'fullTwoTablesInProcessMs', name: '   … in-process duration (run_finished)', values: inProcess(full2), format: secs },
    { key: 'fullTwoTablesCpuMs', name: '   … CPU of the ingesta process (user + sys)', values: cpu(full2), format: secs },
    { key: 'fullTwoTablesRowsRead', name: '   … rows read', values: full2.map((x) => x.rows), format: int },
    { key: 'soloValidarMs', name: 'c. quality gate alone, --solo-validar (wall)', values: wall(runs.soloValidate), format: secs },
    { key: 'soloValidarCpuMs', name: '   … CPU of the ingesta process (user + sys)', values: cpu(runs.soloValidate), format: secs },
    { key: 'fullLoadWithGateMs', name: 'c. full load + --validar-calidad-datos (wall)', values: wall(runs.fullValidate), format: secs },
    { key: 'fullLoadWithGatePeakRssKb', name: '   … peak RSS', values: rss(runs.fullValidate), format: mb },
    { key: 'smallFullLoadMs', name: 'd. full load at N/10 (wall)', values: wall(runs.smallFull), format: secs },
    { key: 'smallFullLoadPeakRssKb', name: '   … peak RSS at N/10', values: rss(runs.smallFull), format: mb },
  ];
  print(measureTable(measures));
  print();

  const bareMed = med(runs.bare);
  const fullMed = med(wall(runs.full));
  const fullRows = runs.full[0]?.rows ?? 0;
  const fullBytes = runs.full[0]?.bytes ?? 0;
  const pairedFull = runs.full.map((x, i) => div(x.wallMs, runs.bare[i])).filter((x): x is number => x !== undefined);
  const pairedInc = runs.incremental.map((x) => x.inc.wallMs / x.full2.wallMs);
  const rssN = rss(runs.full);
  const rssMaxN = rssN.length ? Math.max(...rssN) : undefined;
  const rssRatio = div(med(rssN), med(rss(runs.smallFull)));
  const smallRows = runs.smallFull[0]?.rows ?? 0;
  const perRowRatio = fullMed !== undefined && fullRows > 0 && smallRows > 0 ? div(fullMed / fullRows, div(med(wall(runs.smallFull)), smallRows)) : undefined;
  const gateOverhead = fullMed === undefined ? undefined : (med(wall(runs.fullValidate)) ?? NaN) - fullMed;

  if (fullMed !== undefined) {
    print(`full load throughput (median wall): ${int(fullRows / (fullMed / 1000))} rows/s, ${(fullBytes / 1e6 / (fullMed / 1000)).toFixed(1)} MB/s ` +
      `(${int(fullRows)} rows, ${(fullBytes / 1e6).toFixed(0)} MB of CSV extracted)`);
  }
  if (bareMed !== undefined && data.big) print(`bare COPY throughput (median wall):  ${int(data.big.totalRows / (bareMed / 1000))} rows/s, ${(fullBytes / 1e6 / (bareMed / 1000)).toFixed(1)} MB/s (same CSV)`);
  if (gateOverhead !== undefined && runs.fullValidate.length) print(`gate after a load (--validar-calidad-datos) adds ${secs(gateOverhead)} to the median full load (${pct(gateOverhead / (fullMed ?? NaN))})`);
  const pkg = med(disk(runs.full, 'packagePeakBytes'));
  if (pkg !== undefined && fullBytes > 0) {
    const left = Math.max(0, ...disk([...runs.full, ...inc, ...full2], 'packageLeftBytes'));
    print(`load package on disk: peak ${mbytes(pkg)} = ${ratio(pkg / fullBytes)} the CSV extracted (the package holds every table's CSV until the commit); left after a run: ${mbytes(left)}`);
  }
  const gate = runs.soloValidate[0]?.quality;
  if (gate) print(`quality gate checks: ${Object.entries(gate).map(([s, n]) => `${n} ${s}`).join(', ')}`);
  print();

  print('b. per change round (1 % of contents and content_attributes, key % 100 = round):');
  print(textTable(
    ['round', 'rows changed', 'incremental', 'rows read', 'filtered COPY', 'full 2 tables', 'inc / full', 'order'],
    runs.incremental.map((x) => [
      String(x.change.round), int(x.change.contents + x.change.contentAttributes), secs(x.inc.wallMs), int(x.inc.rows),
      secs(x.filtered.wallMs), secs(x.full2.wallMs), pct(x.inc.wallMs / x.full2.wallMs), x.order.join(' → '),
    ]),
    new Set([1, 2, 3, 4, 5, 6]),
  ));
  print();

  const sameChange = printSameChange(runs.sameChange, med(runs.cliStartup), print);
  print();

  const targets: Target[] = [
    ...profileSummary.targets,
    { name: 'incremental after 1 % ≤ 2 × (bare filtered COPY + node -e 0)', value: div(med(wall(inc)), sum(med(runs.incremental.map((x) => x.filtered.wallMs)), med(runs.nodeStartup))), limit: 2, comparison: '<=', format: ratio, note: 'median inc / (median filtered COPY + median node -e 0)' },
    { name: 'full load time per row at N / at N/10 ≤ 1.2', value: perRowRatio, limit: 1.2, comparison: '<=', format: ratio, note: '(median wall / rows) at N over the same at N/10' },
    { name: 'incremental after 1 % ≤ 10 % of full (2 tables)', value: div(med(wall(inc)), med(wall(full2))), limit: 0.1, comparison: '<=', format: pct, note: 'median inc / median full of the 2 tables' },
    { name: 'quality gate < 10 % of a full load', value: div(med(wall(runs.soloValidate)), fullMed), limit: 0.1, comparison: '<', format: pct, note: 'median --solo-validar / median full' },
    { name: 'peak RSS < 450 MB', value: rssMaxN === undefined ? undefined : (rssMaxN * 1024) / 1e6, limit: 450, comparison: '<', format: (v) => `${v.toFixed(0)} MB`, note: 'max over the full loads at N' },
    { name: 'RSS(N) / RSS(N/10) ≤ 1.2', value: rssRatio, limit: 1.2, comparison: '<=', format: ratio, note: 'median / median' },
  ];
  print(targetTable(targets));
  print();

  return {
    profiles: profileSummary.summary,
    sameChange,
    medians: Object.fromEntries(measures.map((x) => [x.key, stats(x.values) ?? null])),
    fullLoad: { rows: fullRows, bytes: fullBytes, rowsPerSec: fullMed ? fullRows / (fullMed / 1000) : null, mbPerSec: fullMed ? fullBytes / 1e6 / (fullMed / 1000) : null },
    pairedRatios: { fullOverBare: pairedFull, incOverFull2: pairedInc },
    gateAfterLoadOverheadMs: gateOverhead ?? null,
    targets: targets.map((t) => ({ name: t.name, value: t.value ?? null, limit: t.limit, comparison: t.comparison, verdict: verdict(t), how: t.note })),
  };
}
