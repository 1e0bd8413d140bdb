/**
 * The report of the MERGE-by-batch-size part of bench:athena: per batch size (medians over the repetitions) the rows
 * merged, wall, CPU-seconds of ingesta, PostgreSQL and the stand-ins, the stand-in's time per Athena statement kind,
 * Glue and S3 calls, and the objects under the tables' prefixes; per table the MERGE's cost per row; and least-squares
 * lines (fixed + per row) for the MERGE statement, the run's wall and ingesta's CPU.
 */
import type { MergeRun } from './lib-merge-sizes.js';
import { tally, type StandinWork } from './lib-standin-probe.js';
import { int, secs, stats, textTable } from './lib-stats.js';

const med = (xs: readonly number[]) => stats(xs)?.median ?? NaN;
const ms = (v: number) => (Number.isNaN(v) ? '—' : `${Math.round(v)} ms`);
const us = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} µs` : '—');
const mbytes = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
const rowsOf = (r: MergeRun) => Object.values(r.run.rows).reduce((a, b) => a + b, 0);
const sumCounts = (t: Record<string, number>, key: RegExp) => Object.entries(t).filter(([k]) => key.test(k)).reduce((a, [, v]) => a + v, 0);

/** Least squares y = fixed + perUnit · x (undefined with fewer than two distinct x). */
export function fitLine(points: readonly (readonly [number, number])[]): { fixed: number; perUnit: number; n: number } | undefined {
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  if (n < 2 || sxx === 0) return undefined;
  const perUnit = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0) / sxx;
  return { fixed: my - perUnit * mx, perUnit, n };
}

/** The figures of one run, flat (what the table and the JSON show). */
function figures(r: MergeRun) {
  const w: StandinWork = r.run.work;
  const merge = tally(w.statements, /^MERGE$/);
  return {
    rowsChanged: r.change.contents + r.change.contentAttributes,
    rowsMerged: rowsOf(r),
    wallMs: r.run.wallMs,
    inProcessMs: r.run.inProcessMs ?? NaN,
    ingestaCpuMs: r.run.cpuMs ?? NaN,
    postgresCpuMs: r.run.cpu.postgresMs,
    standinCpuMs: r.run.standinCpuMs,
    mergeCount: merge.count,
    mergeMs: merge.ms,
    mergeCpuMs: merge.cpuMs,
    mergeUsPerRow: rowsOf(r) > 0 ? (merge.ms * 1000) / rowsOf(r) : NaN,
    mergeCpuUsPerRow: rowsOf(r) > 0 ? (merge.cpuMs * 1000) / rowsOf(r) : NaN,
    stagingMs: tally(w.glue, /\(staging\)$/).ms,
    stagingCalls: tally(w.glue, /\(staging\)$/).count,
    pruneMs: tally(w.statements, /^DELETE$/).ms,
    otherStatements: tally(w.statements, /^(?!MERGE$|DELETE$)/).count,
    otherStatementsMs: tally(w.statements, /^(?!MERGE$|DELETE$)/).ms,
    glueCalls: tally(w.glue, /^(?!.*\(staging\)$)/).count,
    glueMs: tally(w.glue, /^(?!.*\(staging\)$)/).ms,
    s3Requests: sumCounts(w.s3, /./),
    lockReads: sumCounts(w.s3, /^lock GET$/),
    addedFiles: r.added.files,
    addedBytes: r.added.bytes,
    icebergFiles: Object.values(r.objects).reduce((a, o) => a + o.icebergFiles, 0),
    statementFloorMs: r.statementFloorMs,
  };
}
type Figures = ReturnType<typeof figures>;

export function printMergeSizes(runs: readonly MergeRun[], print: (s?: string) => void): Record<string, unknown> {
  const sizes = [...new Set(runs.map((r) => r.size))];
  const by = (size: string) => runs.filter((r) => r.size === size).map(figures);
  const m = Object.fromEntries(sizes.map((s) => [s, Object.fromEntries(Object.keys(figures(runs[0]!)).map((k) => [k, med(by(s).map((f) => f[k as keyof Figures]))]))])) as Record<string, Figures>;
  const rows: string[][] = [];
  const line = (name: string, g: (f: Figures) => string) => rows.push([name, ...sizes.map((s) => g(m[s]!))]);
  line('rows changed in PostgreSQL (2 tables)', (f) => int(f.rowsChanged));
  line('rows merged (read by the run)', (f) => int(f.rowsMerged));
  line('run wall', (f) => secs(f.wallMs));
  line('  … in-process (run_finished)', (f) => secs(f.inProcessMs));
  line('CPU-s ingesta process', (f) => secs(f.ingestaCpuMs));
  line('CPU-s PostgreSQL', (f) => secs(f.postgresCpuMs));
  line('CPU-s stand-ins (this process)', (f) => secs(f.standinCpuMs));
  line('MERGE statements (stand-in, DuckDB), wall', (f) => `${f.mergeCount} × = ${ms(f.mergeMs)}`);
  line('  … per row merged', (f) => us(f.mergeUsPerRow));
  line('  … CPU of this process during them', (f) => ms(f.mergeCpuMs));
  line('  … CPU per row merged', (f) => us(f.mergeCpuUsPerRow));
  line('staging table (Glue create + delete)', (f) => `${f.stagingCalls} calls ${ms(f.stagingMs)}`);
  line('prune / DELETE statements', (f) => ms(f.pruneMs));
  line('other Athena statements (SELECT, ALTER)', (f) => `${f.otherStatements} × ${ms(f.otherStatementsMs)}`);
  line('other Glue calls', (f) => `${f.glueCalls} × ${ms(f.glueMs)}`);
  line('S3 requests (of which lock reads)', (f) => `${f.s3Requests} (${f.lockReads})`);
  line('stand-in floor per statement (SELECT 1)', (f) => ms(f.statementFloorMs));
  line('files the run added in S3 (2 tables)', (f) => `${f.addedFiles}, ${mbytes(f.addedBytes)}`);
  line('files under the tables\' iceberg/ prefix', (f) => String(f.icebergFiles));
  print(`MERGE by batch size: --tables contents content_attributes --no-reconcile --lag 0 (medians of ${Math.max(...sizes.map((s) => by(s).length))}; stand-in times are DuckDB's, not Athena's):`);
  print(textTable(['measure', ...sizes], rows, new Set(sizes.map((_, i) => i + 1))));
  const kept = runs.map((r) => Object.values(r.objects).reduce((a, o) => ({ f: a.f + o.batchFiles + o.icebergFiles, b: a.b + o.batchBytes + o.icebergBytes }), { f: 0, b: 0 }));
  print(`objects under the 2 tables' S3 prefixes after each run (${runs.map((r) => r.size).join(', ')}): ${kept.map((k) => `${k.f} (${mbytes(k.b)})`).join(' → ')}`);

  // per table: each MERGE statement's time against its table's rows
  const perTable: Record<string, Record<string, { rows: number; mergeMs: number; usPerRow: number; mergeCpuMs: number }>> = {};
  const tables = [...new Set(runs.flatMap((r) => Object.keys(r.run.rows)))];
  const trows: string[][] = [];
  for (const t of tables) {
    perTable[t] = {};
    for (const s of sizes) {
      const xs = runs.filter((r) => r.size === s);
      const rowsT = med(xs.map((r) => r.run.rows[t] ?? 0));
      const mergeMs = med(xs.map((r) => r.run.work.byTable[`MERGE ${t}`]?.ms ?? 0));
      const mergeCpuMs = med(xs.map((r) => r.run.work.byTable[`MERGE ${t}`]?.cpuMs ?? 0));
      perTable[t]![s] = { rows: rowsT, mergeMs, usPerRow: rowsT > 0 ? (mergeMs * 1000) / rowsT : NaN, mergeCpuMs };
    }
    trows.push([t, ...sizes.map((s) => { const x = perTable[t]![s]!; return x.rows > 0 ? `${int(x.rows)} rows ${ms(x.mergeMs)} (CPU ${ms(x.mergeCpuMs)}) ${us(x.usPerRow)}/row` : 'no MERGE'; })]);
  }
  print(textTable(['MERGE per table', ...sizes], trows, new Set(sizes.map((_, i) => i + 1))));

  const mergePoints = (k: 'ms' | 'cpuMs') =>
    runs.flatMap((r) => tables.flatMap((t) => (r.run.work.byTable[`MERGE ${t}`] ? [[r.run.rows[t] ?? 0, r.run.work.byTable[`MERGE ${t}`]![k]] as const] : [])));
  const fits = {
    mergeStatementMs: fitLine(mergePoints('ms')),
    mergeStatementCpuMs: fitLine(mergePoints('cpuMs')),
    wallMs: fitLine(runs.map((r) => [rowsOf(r), r.run.wallMs] as const)),
    ingestaCpuMs: fitLine(runs.flatMap((r) => (r.run.cpuMs === null ? [] : [[rowsOf(r), r.run.cpuMs] as const]))),
    standinCpuMs: fitLine(runs.map((r) => [rowsOf(r), r.run.standinCpuMs] as const)),
  };
  const fit = (name: string, f: (typeof fits)[keyof typeof fits], unit: string) =>
    print(`  ${name}: ${f ? `${ms(f.fixed)} fixed + ${us(f.perUnit * 1000)} per row${unit} (n = ${f.n})` : '—'}`);
  print('least-squares lines over every run (rows = rows merged):');
  fit('one MERGE statement on the stand-in, wall', fits.mergeStatementMs, ' of its table');
  fit('one MERGE statement on the stand-in, CPU', fits.mergeStatementCpuMs, ' of its table');
  fit('run wall', fits.wallMs, '');
  fit('ingesta CPU', fits.ingestaCpuMs, '');
  fit('stand-ins CPU', fits.standinCpuMs, '');
  const failed = runs.filter((r) => !r.check.ok);
  print(failed.length === 0 ? 'check: after every run the Iceberg tables held the source\'s rows and the round\'s changed titles' : `CHECK FAILED: ${failed.map((r) => `${r.size}: ${r.check.detail}`).join(' | ')}`);
  return { bySize: m, perTable, fits, checksFailed: failed.length };
}
