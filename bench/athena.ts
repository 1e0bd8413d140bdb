/**
 * The dev/prod path measured on the executing stand-ins (test/helpers/lakehouse.ts: s3rver behind the conditional
 * layer, and the Glue/Athena stand-in that executes statements on DuckDB): one full load of a fresh DataVision
 * database into S3 + Athena, rows/s and MB/s from the source to Parquet in S3, CPU-seconds per process, and the
 * Parquet objects written (count, sizes, row groups per file).
 *
 *   npm run bench:athena -- [--accounts N=100000] [--profile generator|hard] [--pg-url URL] [--db NAME] [--keep]
 *   (INGESTA_PARQUET_FILE_SIZE, INGESTA_DUCKDB_MEMORY_LIMIT and INGESTA_DUCKDB_THREADS are passed to the run)
 *
 * The stand-ins run in this process on the same cores: the figures describe ingesta plus emulators, not AWS.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { startLakehouse } from '../test/helpers/lakehouse.js';
import { CpuSampler } from './lib-cpu.js';
import { createAndFill, databaseUrl, dropDatabase } from './lib-db.js';
import { parseEvents, runMeasured, runPlain } from './lib-proc.js';
import { int, secs } from './lib-stats.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const { values: argv } = parseArgs({
  options: {
    accounts: { type: 'string', default: '100000' },
    profile: { type: 'string', default: 'generator' },
    'pg-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    keep: { type: 'boolean', default: false },
    // (a database of its own per checkout, so two benches on one server never drop each other's)
    db: { type: 'string', default: 'ingesta_bench_athena' },
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

/** Every stored object under `dir` (s3rver keeps an object as `<key>._S3rver_object`). */
function objects(dir: string, prefix = ''): { key: string; path: string; bytes: number }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return objects(p, `${prefix}${e.name}/`);
    return e.name.endsWith('._S3rver_object') ? [{ key: `${prefix}${e.name.replace(/\._S3rver_object$/, '')}`, path: p, bytes: statSync(p).size }] : [];
  });
}

async function main(): Promise<void> {
  if (runPlain('npm', ['run', 'build', '--silent'], ROOT) !== 0) throw new Error('npm run build failed');
  log(`generating ${DB} (${accounts} accounts, ${profile} profile)…`);
  const data = await createAndFill(adminUrl, DB, accounts, profile);
  log(`generated ${int(data.totalRows)} rows`);
  const lake = await startLakehouse(tmp);
  try {
    const sampler = new CpuSampler(DB);
    const selfStart = process.cpuUsage();
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...lake.env(databaseUrl(adminUrl, DB)), ...passedSettings, INGESTA_LOG_FORMAT: 'json' };
    const r = await runMeasured(process.execPath, [CLI, '--env', 'dev', '--full-refresh', '--no-schema-export'], { cwd: tmp, env, rssFile: join(tmp, 'time.out'), sampler });
    const cpu = sampler.stop();
    const self = process.cpuUsage(selfStart);
    const ev = parseEvents(r.stdout);
    if (r.exitCode !== 0) throw new Error(`ingesta --env dev failed (exit ${r.exitCode}): ${ev.errors.join('; ')} ${r.stderr.slice(-2000)}`);
    const rows = ev.extracts.reduce((a, e) => a + e.rows, 0);
    const csv = ev.extracts.reduce((a, e) => a + e.bytes, 0);
    const parquet = objects(join(tmp, 's3', 'lake')).filter((o) => o.key.endsWith('.parquet'));
    const pqBytes = parquet.reduce((a, o) => a + o.bytes, 0);
    const duck = await DuckDBInstance.create(':memory:');
    const conn = await duck.connect();
    console.log(`\n== dev/prod path on the stand-ins (s3rver + executing Athena stand-in), ${int(rows)} rows, ${profile} profile ==`);
    if (Object.keys(passedSettings).length > 0) console.log(`settings ${Object.entries(passedSettings).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    console.log(`full load wall ${secs(r.wallMs)} (machine shared: under load), peak RSS ${(((r.peakRssKb ?? 0) * 1024) / 1e6).toFixed(0)} MB`);
    // the load into S3 + Glue + Athena alone: from load_started (every table extracted) to the first table_loaded
    // (emitted once state.json and the run record are written): typing, uploads, clean-up, publishing
    const at = (type: string) => r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; time?: string }).find((e) => e.type === type)?.time;
    const loadStarted = at('load_started');
    const loaded = at('table_loaded');
    if (loadStarted && loaded) console.log(`load phase (typing, uploads, publishing) ${secs(Date.parse(loaded) - Date.parse(loadStarted))}`);
    console.log(`throughput ${int(rows / (r.wallMs / 1000))} rows/s; ${(csv / 1e6 / (r.wallMs / 1000)).toFixed(1)} MB/s of CSV extracted (${(csv / 1e6).toFixed(0)} MB), ${(pqBytes / 1e6 / (r.wallMs / 1000)).toFixed(1)} MB/s of Parquet written to S3 (${(pqBytes / 1e6).toFixed(0)} MB)`);
    console.log(`CPU-s: ingesta process ${secs(r.cpuMs ?? NaN)} (Node main ${secs(cpu.mainThreadMs)}, other threads ${secs(cpu.otherThreadsMs)}); PostgreSQL ${secs(cpu.postgresMs)}; the stand-ins (this process) ${secs((self.user + self.system) / 1000)}`);
    console.log(`Parquet objects: ${parquet.length} (key, MB, row groups, rows per group, largest row group in MB):`);
    for (const o of parquet) {
      const md = (await conn.runAndReadAll(`SELECT count(DISTINCT row_group_id) AS g, max(row_group_num_rows) AS r, sum(DISTINCT row_group_num_rows) AS n, max(row_group_bytes) AS b FROM parquet_metadata('${o.path.replace(/'/g, "''")}')`)).getRowObjectsJS()[0] ?? {};
      console.log(`  ${o.key}  ${(o.bytes / 1e6).toFixed(1)} MB  ${md.g} row groups  ≤ ${int(Number(md.r))} rows/group  ${((Number(md.b) || 0) / 1e6).toFixed(1)} MB/group`);
    }
    conn.closeSync();
    duck.closeSync();
  } finally {
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
