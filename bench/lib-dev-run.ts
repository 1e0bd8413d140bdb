/**
 * One measured `ingesta --env dev` run against the stand-ins of this process: wall, ingesta's CPU (GNU time) and its
 * split, PostgreSQL's CPU (the bench database's backends), this process's CPU (the stand-ins: s3rver, the conditional
 * layer, Glue/Athena and its DuckDB) less what the /proc sampler's worker thread spent, and what the stand-ins did
 * (lib-standin-probe.ts).
 */
import { join } from 'node:path';
import type { CpuBreakdown } from './lib-cpu.js';
import type { WorkerCpuSampler } from './lib-cpu-worker.js';
import { parseEvents, runMeasured } from './lib-proc.js';
import type { StandinWork } from './lib-standin-probe.js';

export interface DevRunContext {
  readonly cli: string;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The bench database (its backends are measured). */
  readonly database: string;
  readonly probe: { mark(): number[]; since(mark: number[]): StandinWork };
  /** The /proc sampler's thread (lib-cpu-worker.ts), started once by the bench. */
  readonly sampler: WorkerCpuSampler;
}

export interface DevRun {
  readonly wallMs: number;
  /** run_finished.summary.durationMs. */
  readonly inProcessMs: number | null;
  /** ingesta process, user + sys (GNU time). */
  readonly cpuMs: number | null;
  readonly peakRssKb: number | null;
  readonly cpu: CpuBreakdown;
  /** This process's CPU during the run, less the sampler's own (the stand-ins, approximately). */
  readonly standinCpuMs: number;
  /** What the /proc sampler spent in this process: its worker thread's CPU during the run (subtracted above). */
  readonly samplerMs: number;
  readonly rows: Record<string, number>;
  readonly csvBytes: number;
  readonly work: StandinWork;
  /**
   * The load into S3 + Glue + Athena alone: from load_started (every table extracted) to the first table_loaded
   * (emitted once state.json and the run record are written): typing, uploads, clean-up, publishing.
   */
  readonly loadPhaseMs: number | null;
}

export async function runDev(ctx: DevRunContext, args: readonly string[]): Promise<DevRun> {
  const sampler = ctx.sampler;
  const self0 = process.cpuUsage();
  await sampler.begin(ctx.database);
  const mark = ctx.probe.mark();
  const r = await runMeasured(process.execPath, [ctx.cli, '--env', 'dev', ...args], { cwd: ctx.cwd, env: ctx.env, rssFile: join(ctx.cwd, 'time.out'), sampler });
  const { samplerMs, ...cpu } = await sampler.end();
  const self = process.cpuUsage(self0);
  const work = ctx.probe.since(mark);
  const ev = parseEvents(r.stdout);
  if (r.exitCode !== 0) throw new Error(`ingesta --env dev ${args.join(' ')} failed (exit ${r.exitCode}): ${ev.errors.join('; ')} ${r.stderr.slice(-2000)}`);
  const rows: Record<string, number> = {};
  for (const e of ev.extracts) rows[e.table] = (rows[e.table] ?? 0) + e.rows;
  return {
    wallMs: r.wallMs,
    inProcessMs: ev.summary?.durationMs ?? null,
    cpuMs: r.cpuMs,
    peakRssKb: r.peakRssKb,
    cpu,
    standinCpuMs: (self.user + self.system) / 1000 - samplerMs,
    samplerMs,
    rows,
    csvBytes: ev.extracts.reduce((a, e) => a + e.bytes, 0),
    work,
    loadPhaseMs: loadPhase(r.stdout),
  };
}

function loadPhase(stdout: string): number | null {
  const events = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; time?: string });
  const at = (type: string) => events.find((e) => e.type === type)?.time;
  const started = at('load_started');
  const loaded = at('table_loaded');
  return started && loaded ? Date.parse(loaded) - Date.parse(started) : null;
}
