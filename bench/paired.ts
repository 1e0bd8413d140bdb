/**
 * Paired runs on a shared machine: two variants of a full load — two builds of ingesta (a copy of dist/ made before a
 * change, and dist/ after it) or one build under two settings — alternating on the same existing database, K pairs;
 * per run the wall time, peak RSS and the CPU-seconds per stage (lib-cpu.ts: PostgreSQL, Node main thread, other
 * threads), then the medians and the per-pair ratios B / A. Wall time moves with other work on the machine; the
 * CPU-seconds and the paired ratios are what a before/after judgement should rest on.
 *
 *   npx tsx bench/paired.ts --db <database> [--pairs 3] [--a DIST_A] [--b DIST_B] [--a-env K=V,…] [--b-env K=V,…]
 *
 * DIST_* default to dist (a build directory with cli/main.js, resolved from the repository root). The database is
 * read, never written: create one with the bench (`npm run bench -- --keep`, or createAndFill from lib-db.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CpuSampler, type CpuBreakdown } from './lib-cpu.js';
import { databaseUrl } from './lib-db.js';
import { runMeasured } from './lib-proc.js';
import { stats } from './lib-stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: argv } = parseArgs({
  options: {
    db: { type: 'string' },
    pairs: { type: 'string', default: '3' },
    a: { type: 'string', default: 'dist' },
    b: { type: 'string', default: 'dist' },
    'a-env': { type: 'string', default: '' },
    'b-env': { type: 'string', default: '' },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
});
if (!argv.db) throw new Error('--db <database> is required');
const envOf = (spec: string): Record<string, string> =>
  Object.fromEntries(spec.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

interface Run {
  readonly wallMs: number;
  readonly peakRssKb: number | null;
  readonly cpuMs: number | null;
  readonly cpu: CpuBreakdown;
  /** Tables loaded again with a raised memory limit after DuckDB ran out of memory (the run's warning). */
  readonly memoryRetries: number;
}

async function fullLoad(variant: 'a' | 'b', tmp: string, i: number): Promise<Run> {
  const dist = resolve(ROOT, argv[variant]!);
  const sampler = new CpuSampler(argv.db!);
  const file = join(tmp, `${variant}${i}.duckdb`);
  const r = await runMeasured(
    process.execPath,
    [join(dist, 'cli', 'main.js'), '--env', 'local', '--log-format', 'json', '--source-url', databaseUrl(argv['pg-url']!, argv.db!), '--duckdb-path', file, '--package-dir', join(tmp, 'packages'), '--full-refresh', '--no-schema-export'],
    { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...envOf(argv[`${variant}-env`]!) }, rssFile: join(tmp, 'time.out'), sampler },
  );
  const cpu = sampler.stop();
  rmSync(file, { force: true });
  rmSync(`${file}.wal`, { force: true });
  if (r.exitCode !== 0) throw new Error(`variant ${variant} failed (exit ${r.exitCode}): ${r.stderr.slice(-1000)}`);
  const memoryRetries = r.stdout.split('\n').filter((l) => l.includes('"warning"') && l.includes('ran out of memory')).length;
  return { wallMs: r.wallMs, peakRssKb: r.peakRssKb, cpuMs: r.cpuMs, cpu, memoryRetries };
}

const tmp = mkdtempSync(join(os.tmpdir(), 'ingesta-paired-'));
try {
  const runs: Record<'a' | 'b', Run[]> = { a: [], b: [] };
  for (let i = 0; i < Number(argv.pairs); i += 1) {
    // alternating which goes first
    for (const v of i % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)) {
      const r = await fullLoad(v, tmp, i);
      runs[v].push(r);
      console.log(`pair ${i + 1} ${v}: wall ${(r.wallMs / 1000).toFixed(2)} s, CPU ingesta ${((r.cpuMs ?? NaN) / 1000).toFixed(2)} s (main ${(r.cpu.mainThreadMs / 1000).toFixed(2)}, other ${(r.cpu.otherThreadsMs / 1000).toFixed(2)}), PostgreSQL ${(r.cpu.postgresMs / 1000).toFixed(2)} s, peak RSS ${(((r.peakRssKb ?? 0) * 1024) / 1e6).toFixed(0)} MB${r.memoryRetries ? `, ${r.memoryRetries} memory retr${r.memoryRetries === 1 ? 'y' : 'ies'}` : ''}`);
    }
  }
  const measures: [string, (r: Run) => number][] = [
    ['wall s', (r) => r.wallMs / 1000],
    ['CPU-s ingesta process', (r) => (r.cpuMs ?? NaN) / 1000],
    ['CPU-s Node main thread', (r) => r.cpu.mainThreadMs / 1000],
    ['CPU-s other threads (DuckDB)', (r) => r.cpu.otherThreadsMs / 1000],
    ['CPU-s PostgreSQL', (r) => r.cpu.postgresMs / 1000],
    ['peak RSS MB', (r) => ((r.peakRssKb ?? NaN) * 1024) / 1e6],
  ];
  console.log(`\nA = ${argv.a} ${argv['a-env']}   B = ${argv.b} ${argv['b-env']}   (${argv.pairs} pairs on ${argv.db}; medians, per-pair B/A)`);
  for (const [name, f] of measures) {
    const a = stats(runs.a.map(f))!;
    const b = stats(runs.b.map(f))!;
    const ratios = runs.a.map((r, i) => f(runs.b[i]!) / f(r));
    console.log(`${name.padEnd(30)} A ${a.median.toFixed(2).padStart(8)}   B ${b.median.toFixed(2).padStart(8)}   B/A per pair ${ratios.map((x) => x.toFixed(3)).join(' ')} (median ${stats(ratios)!.median.toFixed(3)})`);
  }
  const retries = (v: 'a' | 'b') => runs[v].reduce((n, r) => n + r.memoryRetries, 0);
  console.log(`${'tables retried (out of memory)'.padEnd(30)} A ${String(retries('a')).padStart(8)}   B ${String(retries('b')).padStart(8)}   (in all runs)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
