/**
 * ingesta benchmark: bare psql COPY vs ingesta's full load, incremental after a 1 % change, the quality gate and
 * peak RSS scaling, on a fresh database filled with the project's own DataVision generator.
 *
 *   npm run bench -- [--scale K] [--accounts N] [--repeat K] [--pg-url URL] [--keep] [--skip-rss-scaling] [--lag D]
 *
 * See bench/README.md. Results: printed, and written to bench/results/latest.json.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { changeOnePercent, changeSlice, createAndFill, databaseUrl, describeMachine, dropDatabase, TABLES, type ChangeRound, type Generated } from './lib-db.js';
import { CpuSampler } from './lib-cpu.js';
import { benchOptions } from './lib-options.js';
import { DiskSampler } from './lib-disk.js';
import { killAll, parseEvents, rssMethod, runMeasured, runPlain, type IngestaEvents, type ProcResult } from './lib-proc.js';
import { printReport, runPhases, type Results, type IngestaRun, type IncRound } from './lib-report.js';
import type { BareRun, ProfileResult } from './lib-profiles.js';
import type { SameChangeRun } from './lib-incremental.js';
import { measureStages } from './lib-stages.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const BIG_DB = 'ingesta_bench';
const HARD_DB = 'ingesta_bench_hard';
const SMALL_DB = 'ingesta_bench_small';
const INC_TABLES = ['contents', 'content_attributes'];
const RUN_TIMEOUT_MS = 60 * 60 * 1000;

const argv = benchOptions();
const { accounts, repeat, profiles, hardAccounts, adminUrl } = argv;
const pgUrl = new URL(adminUrl);
const lagArgs = argv.lag === undefined ? [] : ['--lag', argv.lag];

/** The child environment: no INGESTA_* / DATABASE_* / PG* variable may change what is measured. */
const childEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(INGESTA_|DATABASE_|PG|DUCKDB_PATH$)/.test(k)),
);
const psqlEnv: NodeJS.ProcessEnv = { ...childEnv, ...(pgUrl.password ? { PGPASSWORD: decodeURIComponent(pgUrl.password) } : {}) };

const tmp = mkdtempSync(join(os.tmpdir(), 'ingesta-bench-'));
const rssFile = join(tmp, 'time.out');
const log = (msg: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
const created: string[] = [];

process.on('SIGINT', () => {
  killAll();
  rmSync(tmp, { recursive: true, force: true });
  console.error(`\ninterrupted; databases ${created.join(', ') || '(none)'} left in place (the next run drops them)`);
  process.exit(130);
});

/** One `psql -c …` (one connection); with a sampler, its backend's CPU is measured too. */
async function psql(db: string, sqls: readonly string[], sampler?: CpuSampler): Promise<ProcResult> {
  const args = ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', pgUrl.hostname, '-p', pgUrl.port || '5432', '-U', decodeURIComponent(pgUrl.username || 'postgres'), '-d', db, ...sqls.flatMap((q) => ['-c', q])];
  const r = await runMeasured('psql', args, { cwd: ROOT, env: psqlEnv, discardStdout: true, rssFile: join(tmp, `time-${++timeFiles}.out`), timeoutMs: RUN_TIMEOUT_MS, sampler });
  if (r.exitCode !== 0) throw new Error(`psql ${sqls.join('; ')} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  return r;
}
let timeFiles = 0;
const copySql = (t: string) => `COPY public.${t} TO STDOUT (FORMAT csv)`;

/**
 * The bare COPY of the 8 tables to /dev/null, two ways: `serial` = one psql (one connection, one backend) running
 * the 8 COPYs one after another; `parallel` = one psql per table, all 8 at once. Wall time, psql's CPU (GNU time)
 * and the backends' CPU (/proc).
 */
async function bareCopy(db: string, way: 'serial' | 'parallel', sqls: readonly string[] = TABLES.map(copySql)): Promise<BareRun> {
  const sampler = new CpuSampler(db);
  const t0 = performance.now();
  const runs = way === 'serial' ? [await psql(db, sqls)] : await Promise.all(sqls.map((q) => psql(db, [q])));
  const wallMs = performance.now() - t0;
  const cpu = sampler.stop();
  return { wallMs, clientCpuMs: runs.reduce((a, r) => a + (r.cpuMs ?? 0), 0), postgresCpuMs: cpu.postgresMs, backends: cpu.backends };
}

let runCounter = 0;
/** A fresh folder for one DuckDB file (its WAL and load packages live next to it). */
function freshDir(label: string): string {
  const dir = join(tmp, `${label}-${++runCounter}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** One ingesta run (CLI, --log-format json); exit 6 (quality failed) is recorded, any other non-zero exit stops. */
async function ingesta(db: string, dir: string, extra: readonly string[]): Promise<IngestaRun> {
  const args = [CLI, '--env', 'local', '--log-format', 'json', '--source-url', databaseUrl(adminUrl, db), '--duckdb-path', join(dir, 'bench.duckdb'), ...extra];
  const sampler = new CpuSampler(db);
  const disk = new DiskSampler(join(dir, '.ingesta', 'packages'), join(dir, 'bench.duckdb'));
  const r: ProcResult = await runMeasured(process.execPath, args, { cwd: ROOT, env: childEnv, rssFile, timeoutMs: RUN_TIMEOUT_MS, sampler });
  const cpu = sampler.stop();
  const diskUse = disk.stop();
  const ev: IngestaEvents = parseEvents(r.stdout);
  if (r.exitCode !== 0 && r.exitCode !== 6) {
    throw new Error(`ingesta ${extra.join(' ')} failed (exit ${r.exitCode ?? r.signal}):\n${ev.errors.join('\n')}\n${r.stderr.trim()}`);
  }
  return {
    wallMs: r.wallMs,
    peakRssKb: r.peakRssKb,
    cpuMs: r.cpuMs,
    exitCode: r.exitCode ?? -1,
    rows: ev.extracts.reduce((a, e) => a + e.rows, 0),
    bytes: ev.extracts.reduce((a, e) => a + e.bytes, 0),
    extractMs: ev.extracts.reduce((a, e) => a + e.ms, 0),
    durationMs: ev.summary?.durationMs ?? null,
    extracts: ev.extracts,
    modes: Object.fromEntries((ev.summary?.tables ?? []).map((t) => [t.table, t.mode])),
    quality: ev.quality ?? null,
    cpu,
    disk: diskUse,
    phases: runPhases(r, ev),
  };
}

const rotate = <T>(xs: readonly T[], k: number): T[] => xs.map((_, i) => xs[(i + k) % xs.length] as T);

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadStart = os.loadavg();
  log(`ingesta benchmark: ${accounts} accounts, ${repeat} paired round(s), PostgreSQL ${pgUrl.hostname}:${pgUrl.port || '5432'}`);
  log('building (npm run build)…');
  const buildExit = runPlain('npm', ['run', 'build', '--silent'], ROOT);
  if (buildExit !== 0) {
    if (!existsSync(CLI)) throw new Error('npm run build failed and dist/cli/main.js does not exist');
    log(`WARNING: npm run build exited ${buildExit} (tsc still emits on type errors): measuring dist/ as it now is`);
  }
  const machine = await describeMachine(adminUrl);
  log(`peak RSS via ${rssMethod}`);

  // a, per data profile: bare COPY both ways and the full load, paired rounds in rotating order
  const profileResults: ProfileResult[] = [];
  const psqlStartup: number[] = [];
  const cliStartup: number[] = [];
  const nodeStartup: number[] = [];
  const full: IngestaRun[] = [];
  const soloValidate: IngestaRun[] = [];
  const fullValidate: IngestaRun[] = [];
  let big: Generated | undefined;
  let loadedDir: string | undefined;
  for (const profile of profiles) {
    const db = profile === 'hard' ? HARD_DB : BIG_DB;
    const n = profile === 'hard' ? hardAccounts : accounts;
    created.push(db);
    log(`generating ${db} (${profile} profile, ${n} accounts)…`);
    const data: Generated = await createAndFill(adminUrl, db, n, profile);
    if (profile === 'generator') big = data;
    log(`generated ${data.totalRows.toLocaleString('en-US')} rows in ${(data.generateMs / 1000).toFixed(1)} s, VACUUM ANALYZE ${(data.vacuumMs / 1000).toFixed(1)} s`);
    const warmup = await bareCopy(db, 'serial');
    log(`warm-up bare COPY (not counted): ${(warmup.wallMs / 1000).toFixed(2)} s`);
    if (profile === profiles[0]) {
      // fixed costs, for reading small sizes: one psql connection, one Node start of the CLI
      for (let k = 0; k < repeat; k++) {
        psqlStartup.push((await psql(db, ['SELECT 1'])).wallMs);
        cliStartup.push((await runMeasured(process.execPath, [CLI, '--version'], { cwd: ROOT, env: childEnv, rssFile, discardStdout: true })).wallMs);
        nodeStartup.push((await runMeasured(process.execPath, ['-e', '0'], { cwd: ROOT, env: childEnv, rssFile, discardStdout: true })).wallMs);
      }
    }
    const result: ProfileResult = { profile, data, warmupBareMs: warmup.wallMs, bareSerial: [], bareParallel: [], full: [] };
    profileResults.push(result);
    // c (the gate) only on the generator's data: its checks are the catalog's, the same on both
    const steps = profile === 'generator' ? (['serial', 'parallel', 'full', 'fullValidate'] as const) : (['serial', 'parallel', 'full'] as const);
    for (let k = 0; k < repeat; k++) {
      for (const step of rotate<(typeof steps)[number]>(steps, k)) {
        if (step === 'serial' || step === 'parallel') {
          const b = await bareCopy(db, step);
          (step === 'serial' ? result.bareSerial : result.bareParallel).push(b);
          log(`${profile} round ${k + 1}: bare COPY ${step} ${(b.wallMs / 1000).toFixed(2)} s (PostgreSQL ${(b.postgresCpuMs / 1000).toFixed(2)} CPU-s, psql ${(b.clientCpuMs / 1000).toFixed(2)})`);
        } else if (step === 'full') {
          const dir = freshDir('full');
          const r = await ingesta(db, dir, ['--full-refresh']);
          result.full.push(r);
          const cpu = r.cpu ? ` CPU-s: PostgreSQL ${(r.cpu.postgresMs / 1000).toFixed(2)}, Node main ${(r.cpu.mainThreadMs / 1000).toFixed(2)}, other threads ${(r.cpu.otherThreadsMs / 1000).toFixed(2)}` : '';
          let solo = '';
          if (profile === 'generator') {
            full.push(r);
            const v = await ingesta(db, dir, ['--solo-validar']);
            soloValidate.push(v);
            solo = `; --solo-validar ${(v.wallMs / 1000).toFixed(2)} s ${JSON.stringify(v.quality)}`;
            if (loadedDir) rmSync(loadedDir, { recursive: true, force: true });
            loadedDir = dir;
          } else {
            rmSync(dir, { recursive: true, force: true });
          }
          log(`${profile} round ${k + 1}: full load ${(r.wallMs / 1000).toFixed(2)} s, ${((r.peakRssKb ?? 0) / 1024).toFixed(0)} MiB, package peak ${((r.disk?.packagePeakBytes ?? 0) / 1e6).toFixed(0)} MB;${cpu}${solo}`);
        } else {
          const dir = freshDir('fullv');
          const r = await ingesta(db, dir, ['--validar-calidad-datos', '--full-refresh']);
          fullValidate.push(r);
          rmSync(dir, { recursive: true, force: true });
          log(`round ${k + 1}: full load + gate ${(r.wallMs / 1000).toFixed(2)} s (exit ${r.exitCode}) ${JSON.stringify(r.quality)}`);
        }
      }
    }
    // DuckDB's stages alone (parse, casts, store) on this database's own load package, K rounds (lib-stages.ts)
    const stagesDir = freshDir('stages');
    try {
      log(`${profile}: DuckDB stages alone (parse, casts, store), ${repeat} round(s)…`);
      const s = await measureStages({ root: ROOT, cli: CLI, sourceUrl: databaseUrl(adminUrl, db), dir: stagesDir, rounds: repeat, env: childEnv, rssFile, timeoutMs: RUN_TIMEOUT_MS });
      result.stages = s;
      const c = (ms: number) => (ms / 1000).toFixed(2);
      log(`${profile}: DuckDB stages CPU-s (median): parse ${c(s.median.parseCpuMs)}, casts ${c(s.median.castsCpuMs)}, store ${c(s.median.storeCpuMs)} (commit ${c(s.median.commitCpuMs)}) on ${(s.bytes / 1e6).toFixed(0)} MB of CSV` +
        (s.measuredTables.length ? `; measured first: ${s.measuredTables.join(', ')}` : ''));
    } catch (e) {
      result.stagesError = e instanceof Error ? e.message : String(e);
      log(`WARNING: ${profile}: the DuckDB stages could not be measured: ${result.stagesError}`);
    } finally {
      rmSync(stagesDir, { recursive: true, force: true });
    }
    if (profile === 'hard' && !argv.keep) {
      await dropDatabase(adminUrl, db);
      created.splice(created.indexOf(db), 1);
    }
  }
  const bare = profileResults.find((p) => p.profile === 'generator')?.bareParallel.map((b) => b.wallMs) ?? [];

  // b: 1 % of contents and content_attributes changed; incremental vs full load of the two tables, alternating.
  const rounds: IncRound[] = [];
  const incDir: string | undefined = loadedDir;
  for (let k = 0; incDir !== undefined && k < repeat; k++) {
    const change: ChangeRound = await changeOnePercent(databaseUrl(adminUrl, BIG_DB), k + 1);
    // the bare filtered COPY of the same rows (the changed ones: updated_at from the change on, indexed), one
    // connection per table like the extraction, before or after the incremental run in turn (warm caches for both)
    const filteredSql = INC_TABLES.map((t) => `COPY (SELECT * FROM public.${t} WHERE updated_at >= '${change.since}') TO STDOUT (FORMAT csv)`);
    const order = k % 2 === 0 ? (['inc', 'filtered', 'full2'] as const) : (['filtered', 'full2', 'inc'] as const);
    let inc: IngestaRun | undefined;
    let full2: IngestaRun | undefined;
    let filtered: BareRun | undefined;
    for (const step of order) {
      if (step === 'inc') inc = await ingesta(BIG_DB, incDir, ['--tables', ...INC_TABLES, '--no-reconcile', ...lagArgs]);
      else if (step === 'filtered') filtered = await bareCopy(BIG_DB, 'parallel', filteredSql);
      else full2 = await ingesta(BIG_DB, incDir, ['--tables', ...INC_TABLES, '--full-refresh']);
    }
    if (!inc || !full2 || !filtered) throw new Error('unreachable');
    rounds.push({ change, inc, full2, filtered, order: [...order] });
    log(`change ${k + 1}: ${change.contents + change.contentAttributes} rows changed; incremental ${(inc.wallMs / 1000).toFixed(2)} s read ${inc.rows} rows ${JSON.stringify(inc.modes)}; bare filtered COPY ${(filtered.wallMs / 1000).toFixed(2)} s; full 2 tables ${(full2.wallMs / 1000).toFixed(2)} s`);
  }

  // d: peak RSS at N/10.
  let small: Generated | undefined;
  let smallDir: string | undefined;
  const smallFull: IngestaRun[] = [];
  if (!argv.skipRssScaling && big) {
    const n10 = Math.max(10, Math.floor(accounts / 10));
    created.push(SMALL_DB);
    log(`generating ${SMALL_DB} (${n10} accounts)…`);
    small = await createAndFill(adminUrl, SMALL_DB, n10, 'generator');
    log(`generated ${small.totalRows.toLocaleString('en-US')} rows in ${(small.generateMs / 1000).toFixed(1)} s`);
    for (let k = 0; k < repeat; k++) {
      const dir = freshDir('small');
      const r = await ingesta(SMALL_DB, dir, ['--full-refresh']);
      smallFull.push(r);
      if (smallDir) rmSync(smallDir, { recursive: true, force: true });
      smallDir = dir;
      log(`N/10 round ${k + 1}: full load ${(r.wallMs / 1000).toFixed(2)} s, ${((r.peakRssKb ?? 0) / 1024).toFixed(0)} MiB`);
    }
  }

  // e: the same change (rows) at N/10 and at N: 1 % of N/10 (key % 100) vs 0.1 % of N (key % 1000), --no-reconcile,
  // --lag 0 (only the change is read: the rows of part b stamped inside the lag window would be re-read otherwise);
  // then the automatic reconciliation's counts (one count(*) per incremental table on the source) measured alone
  const sameChange: SameChangeRun[] = [];
  const sizes = [...(smallDir ? [{ size: 'N/10', db: SMALL_DB, dir: smallDir, modulus: 100 }] : []), ...(incDir ? [{ size: 'N', db: BIG_DB, dir: incDir, modulus: 1000 }] : [])];
  // part b's last round stamped its rows with one now(): they sit exactly at the stored cursor, and `>=` re-reads
  // such ties on every run until a later row arrives (by design) — so they are moved a day back first, as part b
  // does between its rounds (without it, --scale 10's part e at N read part b's 270,000 rows again)
  if (sizes.length === 2 && rounds.length > 0) await changeSlice(databaseUrl(adminUrl, BIG_DB), 0, undefined, { modulus: 100, remainder: rounds.length % 100 });
  // (untimed: each file first reads what part b or d left inside the window)
  if (sizes.length === 2) for (const x of sizes) await ingesta(x.db, x.dir, ['--tables', ...INC_TABLES, '--no-reconcile', '--lag', '0']);
  for (let k = 0; sizes.length === 2 && k < repeat; k++) {
    for (const x of k % 2 === 0 ? sizes : [...sizes].reverse()) {
      const change = await changeOnePercent(databaseUrl(adminUrl, x.db), 500 + k, x.modulus);
      const run = await ingesta(x.db, x.dir, ['--tables', ...INC_TABLES, '--no-reconcile', '--lag', '0']);
      const sampler = new CpuSampler(x.db);
      const counts = await psql(x.db, INC_TABLES.map((t) => `SELECT count(*) FROM public.${t}`), sampler);
      const countCpu = sampler.stop();
      sameChange.push({ size: x.size, change, run, countsWallMs: counts.wallMs, countsPostgresCpuMs: countCpu.postgresMs });
      log(`same change at ${x.size}: ${change.contents + change.contentAttributes} rows changed, incremental ${(run.wallMs / 1000).toFixed(2)} s read ${run.rows}; counts ${(counts.wallMs / 1000).toFixed(2)} s`);
    }
  }
  for (const d of [incDir, smallDir]) if (d) rmSync(d, { recursive: true, force: true });

  const finishedAt = new Date();
  const results: Results = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationMs: finishedAt.getTime() - startedAt.getTime(),
    loadAverage: { start: loadStart, end: os.loadavg() },
    options: { scale: argv.scale, accounts, hardAccounts, profiles, repeat, pgUrl: adminUrl.replace(/:[^:@/]*@/, ':***@'), keep: argv.keep, skipRssScaling: argv.skipRssScaling, lag: argv.lag ?? null },
    machine,
    rssMethod,
    build: { exitCode: buildExit },
    data: { big: big ?? null, small: small ?? null },
    profiles: profileResults,
    runs: { psqlStartup, cliStartup, nodeStartup, bare, full, soloValidate, fullValidate, incremental: rounds, smallFull, sameChange },
  };
  const summary = printReport(results);
  const outDir = join(ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify({ ...results, summary }, null, 2)}\n`);
  log('results written to bench/results/latest.json');
}

async function cleanup(): Promise<void> {
  killAll();
  rmSync(tmp, { recursive: true, force: true });
  if (argv.keep) {
    if (created.length) log(`--keep: databases ${created.join(', ')} kept`);
    return;
  }
  for (const db of created) await dropDatabase(adminUrl, db).catch((e: unknown) => console.error(`could not drop ${db}: ${String(e)}`));
  if (created.length) log(`dropped ${created.join(', ')}`);
}

let exitCode = 0;
try {
  await main();
} catch (e) {
  console.error(`bench failed: ${e instanceof Error ? e.message : String(e)}`);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
