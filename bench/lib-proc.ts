/**
 * Child processes for the benchmark: wall time (hrtime around the spawn) and peak RSS (GNU time's %M, or polling
 * /proc/<pid>/status VmHWM when /usr/bin/time is missing). Each child runs in its own process group so a timeout or
 * Ctrl-C kills the whole tree; nothing is left running.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import type { CpuSampler } from './lib-cpu.js';

export interface ProcResult {
  readonly wallMs: number;
  /** Peak resident set size of the measured process, KiB; null when it could not be read. */
  readonly peakRssKb: number | null;
  /** User + system CPU time of the measured process (GNU time %U + %S), ms; null without GNU time. */
  readonly cpuMs: number | null;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall-clock times (Date.now()) of the spawn and of the process's end, to place its events in time. */
  readonly spawnedAtMs: number;
  readonly endedAtMs: number;
}

export interface ProcOptions {
  readonly cwd: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Send stdout to /dev/null instead of collecting it. */
  readonly discardStdout?: boolean;
  /** Scratch file for GNU time's output. */
  readonly rssFile: string;
  readonly timeoutMs?: number;
  /** Measures the process's threads (and the database's backends) while it runs; the caller stops it. */
  readonly sampler?: Pick<CpuSampler, 'watch'>;
}

const GNU_TIME = '/usr/bin/time';
const gnuTimeWorks = ((): boolean => {
  if (!existsSync(GNU_TIME)) return false;
  const r = spawnSync(GNU_TIME, ['-f', '%M %U %S', 'true'], { encoding: 'utf8' });
  return r.status === 0 && /^\d+ [\d.]+ [\d.]+\s*$/m.test(r.stderr);
})();

export const rssMethod = gnuTimeWorks ? 'GNU time %M (CPU: %U + %S)' : 'polling /proc/<pid>/status VmHWM';

const active = new Set<ChildProcess>();

/** Kills every child still running (their whole process groups). */
export function killAll(): void {
  for (const child of active) {
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  active.clear();
}

function readHwm(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Runs `cmd args` to completion, measuring wall time and peak RSS. Never rejects on a non-zero exit. */
export function runMeasured(cmd: string, args: readonly string[], opts: ProcOptions): Promise<ProcResult> {
  rmSync(opts.rssFile, { force: true });
  const devNull = opts.discardStdout ? openSync('/dev/null', 'w') : undefined;
  const [file, argv] = gnuTimeWorks ? [GNU_TIME, ['-f', '%M %U %S', '-o', opts.rssFile, cmd, ...args]] : [cmd, [...args]];
  const start = process.hrtime.bigint();
  const spawnedAtMs = Date.now();
  const child = spawn(file, argv, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', devNull ?? 'pipe', 'pipe'],
    detached: true,
  });
  active.add(child);
  opts.sampler?.watch(child.pid);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  let polled: number | null = null;
  const poll = gnuTimeWorks
    ? undefined
    : setInterval(() => {
        if (child.pid === undefined) return;
        const v = readHwm(child.pid);
        if (v !== null) polled = Math.max(polled ?? 0, v);
      }, 20);
  const timer = opts.timeoutMs
    ? setTimeout(() => {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      }, opts.timeoutMs)
    : undefined;
  return new Promise((resolve, reject) => {
    child.on('error', (e) => {
      active.delete(child);
      if (devNull !== undefined) closeSync(devNull);
      reject(e);
    });
    child.on('close', (code, signal) => {
      opts.sampler?.watch(undefined);
      const wallMs = Number(process.hrtime.bigint() - start) / 1e6;
      active.delete(child);
      if (poll) clearInterval(poll);
      if (timer) clearTimeout(timer);
      if (devNull !== undefined) closeSync(devNull);
      let peakRssKb: number | null = polled;
      let cpuMs: number | null = null;
      let stderr = Buffer.concat(err).toString('utf8');
      if (gnuTimeWorks) {
        try {
          const text = readFileSync(opts.rssFile, 'utf8');
          // GNU time writes "Command exited with non-zero status N" before the figures on failure.
          const m = /(\d+) ([\d.]+) ([\d.]+)$/.exec(text.trim());
          peakRssKb = m ? Number(m[1]) : null;
          cpuMs = m ? (Number(m[2]) + Number(m[3])) * 1000 : null;
          const extra = text.trim().split('\n').slice(0, -1).join('\n');
          if (extra) stderr += `${stderr ? '\n' : ''}${extra}`;
        } catch {
          peakRssKb = null;
        }
        rmSync(opts.rssFile, { force: true });
      }
      // Under GNU time the child's status is time's own, which forwards the command's exit code.
      resolve({ wallMs, peakRssKb, cpuMs, exitCode: code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr, spawnedAtMs, endedAtMs: Date.now() });
    });
  });
}

/** Runs a command in the foreground (inherits stdio), e.g. the build. Returns its exit code. */
export function runPlain(cmd: string, args: readonly string[], cwd: string): number {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  return r.status ?? 1;
}

/** One `--log-format json` event per line; other lines are ignored. */
export interface IngestaEvents {
  readonly extracts: { table: string; rows: number; bytes: number; ms: number }[];
  readonly summary: { durationMs: number; tables: { table: string; mode: string; extractMs: number }[] } | undefined;
  readonly errors: string[];
  /** Status counts of the quality gate's checks, when it ran. */
  readonly quality: Record<string, number> | undefined;
  /** When run_started and run_finished were emitted (their `time`, ms since the epoch). */
  readonly runStartedAtMs: number | undefined;
  readonly runFinishedAtMs: number | undefined;
  /** Σ table_load_finished ms (each table's load into the destination) and commit_finished ms. */
  readonly loadMs: number;
  readonly commitMs: number | undefined;
}

export function parseEvents(stdout: string): IngestaEvents {
  const extracts: IngestaEvents['extracts'] = [];
  const errors: string[] = [];
  let summary: IngestaEvents['summary'];
  let quality: Record<string, number> | undefined;
  let runStartedAtMs: number | undefined;
  let runFinishedAtMs: number | undefined;
  let loadMs = 0;
  let commitMs: number | undefined;
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    if (e.type === 'extract_finished') {
      extracts.push({ table: String(e.table), rows: Number(e.rows), bytes: Number(e.bytes), ms: Number(e.ms) });
    } else if (e.type === 'run_started') {
      runStartedAtMs = Date.parse(String(e.time));
    } else if (e.type === 'table_load_finished') {
      loadMs += Number(e.ms);
    } else if (e.type === 'commit_finished') {
      commitMs = Number(e.ms);
    } else if (e.type === 'run_finished') {
      summary = e.summary as IngestaEvents['summary'];
      runFinishedAtMs = Date.parse(String(e.time));
    } else if (e.type === 'error') {
      errors.push(`${String(e.kind)}: ${String(e.message)}`);
    } else if (e.type === 'quality_finished') {
      quality = {};
      for (const c of (e.report as { checks?: { status: string }[] } | undefined)?.checks ?? []) quality[c.status] = (quality[c.status] ?? 0) + 1;
    }
  }
  return { extracts, summary, errors, quality, runStartedAtMs, runFinishedAtMs, loadMs, commitMs };
}
