/**
 * The dev/prod path measured on the executing stand-ins (test/helpers/lakehouse.ts: s3rver behind the conditional
 * layer, and the Glue/Athena stand-in that executes statements on DuckDB): one full load of a fresh DataVision
 * database into S3 + Athena, rows/s and MB/s from the source to Parquet in S3, CPU-seconds per process, and the
 * Parquet objects written (count, sizes, row groups per file); then the MERGE path by batch size (lib-merge-sizes.ts:
 * ≈ 0.1 %, 1 % and 10 % of contents + content_attributes, and no change) with the stand-in's time per statement kind.
 *
 *   npm run bench:athena -- [--accounts N=100000] [--profile generator|hard] [--merge-repeat K=2] [--skip-merge]
 *                           [--pg-url URL] [--db NAME=ingesta_bench_athena] [--keep]
 *   (INGESTA_PARQUET_FILE_SIZE, INGESTA_DUCKDB_MEMORY_LIMIT and INGESTA_DUCKDB_THREADS are passed to the run)
 *
 * The stand-ins run in this process on the same cores: the figures describe ingesta plus emulators, not AWS.
 * Results: printed, and written to bench/results/athena-latest.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { startLakehouse } from '../test/helpers/lakehouse.js';
import { createAndFill, databaseUrl, describeMachine, dropDatabase } from './lib-db.js';
import { WorkerCpuSampler } from './lib-cpu-worker.js';
import { runDev } from './lib-dev-run.js';
import { printMergeSizes } from './lib-merge-report.js';
import { measureMergeSizes } from './lib-merge-sizes.js';
import { runPlain } from './lib-proc.js';
import { probeStandins, s3Objects, type StandinWork } from './lib-standin-probe.js';
import { int, secs } from './lib-stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const { values: argv } = parseArgs({
  options: {
    accounts: { type: 'string', default: '100000' },
    profile: { type: 'string', default: 'generator' },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    db: { type: 'string', default: 'ingesta_bench_athena' },
    keep: { type: 'boolean', default: false },
    'merge-repeat': { type: 'string', default: '2' },
    'skip-merge': { type: 'boolean', default: false },
  },
});
const DB = argv.db;
const profile = argv.profile === 'hard' ? 'hard' : 'generator';
/** ingesta's own settings given to the bench (file size of the Parquet parts, DuckDB memory and threads) reach the run. */
const passedSettings = Object.fromEntries(
  ['INGESTA_PARQUET_FILE_SIZE', 'INGESTA_DUCKDB_MEMORY_LIMIT', 'INGESTA_DUCKDB_THREADS'].flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])),
);
const accounts = Number(argv.accounts);
const adminUrl = argv['pg-url'];
const tmp = mkdtempSync(join(os.tmpdir(), 'ingesta-bench-athena-'));
const log = (m: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${m}`);

/** The stand-in's work of a run, one line per Athena statement kind and per MERGE/DELETE target, and the Glue calls. */
function workLines(w: StandinWork): string[] {
  const t = (x: { count: number; ms: number; cpuMs: number }) => `${x.count} × ${Math.round(x.ms)} ms (CPU ${Math.round(x.cpuMs)} ms)`;
  return [
    `Athena statements (stand-in, DuckDB): ${Object.entries(w.statements).map(([k, v]) => `${k} ${t(v)}`).join(', ')}`,
    `  by target: ${Object.entries(w.byTable).map(([k, v]) => `${k} ${t(v)}`).join(', ')}`,
    `Glue calls: ${Object.entries(w.glue).map(([k, v]) => `${k} ${t(v)}`).join(', ')}`,
    `S3 requests: ${Object.entries(w.s3).map(([k, v]) => `${k} ${v}`).join(', ')}`,
  ];
}

async function main(): Promise<void> {
  if (runPlain('npm', ['run', 'build', '--silent'], ROOT) !== 0) throw new Error('npm run build failed');
  log(`generating ${DB} (${accounts} accounts, ${profile} profile)…`);
  const data = await createAndFill(adminUrl, DB, accounts, profile);
  log(`generated ${int(data.totalRows)} rows`);
  const lake = await startLakehouse(tmp);
  const sampler = await WorkerCpuSampler.start();
  try {
    const probe = probeStandins(lake);
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...lake.env(databaseUrl(adminUrl, DB)), ...passedSettings, INGESTA_LOG_FORMAT: 'json' };
    const ctx = { cli: CLI, cwd: tmp, env, database: DB, probe, sampler };
    const r = await runDev(ctx, ['--full-refresh', '--no-schema-export']);
    const rows = Object.values(r.rows).reduce((a, b) => a + b, 0);
    const csv = r.csvBytes;
    const parquet = s3Objects(join(tmp, 's3', 'lake')).filter((o) => o.key.endsWith('.parquet'));
    const pqBytes = parquet.reduce((a, o) => a + o.bytes, 0);
    const duck = await DuckDBInstance.create(':memory:');
    const conn = await duck.connect();
    console.log(`\n== dev/prod path on the stand-ins (s3rver + executing Athena stand-in), ${int(rows)} rows, ${profile} profile ==`);
    if (Object.keys(passedSettings).length > 0) console.log(`settings ${Object.entries(passedSettings).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    console.log(`full load wall ${secs(r.wallMs)} (machine shared: under load), peak RSS ${(((r.peakRssKb ?? 0) * 1024) / 1e6).toFixed(0)} MB`);
    if (r.loadPhaseMs !== null) console.log(`load phase (typing, uploads, publishing) ${secs(r.loadPhaseMs)}`);
    console.log(`throughput ${int(rows / (r.wallMs / 1000))} rows/s; ${(csv / 1e6 / (r.wallMs / 1000)).toFixed(1)} MB/s of CSV extracted (${(csv / 1e6).toFixed(0)} MB), ${(pqBytes / 1e6 / (r.wallMs / 1000)).toFixed(1)} MB/s of Parquet written to S3 (${(pqBytes / 1e6).toFixed(0)} MB)`);
    console.log(`CPU-s: ingesta process ${secs(r.cpuMs ?? NaN)} (Node main ${secs(r.cpu.mainThreadMs)}, other threads ${secs(r.cpu.otherThreadsMs)}); PostgreSQL ${secs(r.cpu.postgresMs)}; the stand-ins (this process, less the /proc sampler's ${secs(r.samplerMs)}) ${secs(r.standinCpuMs)}`);
    for (const l of workLines(r.work)) console.log(l);
    console.log(`Parquet objects: ${parquet.length} (key, MB, row groups, rows per group, largest row group in MB):`);
    for (const o of parquet) {
      const md = (await conn.runAndReadAll(`SELECT count(DISTINCT row_group_id) AS g, max(row_group_num_rows) AS r, sum(DISTINCT row_group_num_rows) AS n, max(row_group_bytes) AS b FROM parquet_metadata('${o.path.replace(/'/g, "''")}')`)).getRowObjectsJS()[0] ?? {};
      console.log(`  ${o.key}  ${(o.bytes / 1e6).toFixed(1)} MB  ${md.g} row groups  ≤ ${int(Number(md.r))} rows/group  ${((Number(md.b) || 0) / 1e6).toFixed(1)} MB/group`);
    }
    conn.closeSync();
    duck.closeSync();
    let merge: Record<string, unknown> = {};
    let mergeRuns: unknown[] = [];
    if (!argv['skip-merge']) {
      console.log('');
      log(`MERGE by batch size, ${argv['merge-repeat']} repetition(s):`);
      const runs = await measureMergeSizes({ ...ctx, lake, s3Root: join(tmp, 's3'), sourceUrl: databaseUrl(adminUrl, DB), log }, Number(argv['merge-repeat']));
      console.log('');
      merge = printMergeSizes(runs, (s = '') => console.log(s));
      mergeRuns = runs;
    }
    const outDir = join(ROOT, 'bench', 'results');
    mkdirSync(outDir, { recursive: true });
    const machine = await describeMachine(adminUrl);
    const result = { at: new Date().toISOString(), machine, loadAverage: os.loadavg(), accounts, profile, settings: passedSettings, data, fullLoad: { ...r, parquetObjects: parquet.map(({ key, bytes }) => ({ key, bytes })) }, merge, mergeRuns };
    writeFileSync(join(outDir, 'athena-latest.json'), `${JSON.stringify(result, null, 2)}\n`);
    log('results written to bench/results/athena-latest.json');
  } finally {
    await sampler.close();
    await lake.stop();
  }
}

let code = 0;
try {
  await main();
} catch (e) {
  console.error(`bench:athena failed: ${e instanceof Error ? e.message : String(e)}`);
  code = 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
  if (!argv.keep) await dropDatabase(adminUrl, DB).catch(() => undefined);
}
process.exit(code);
