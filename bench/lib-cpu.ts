/**
 * CPU-seconds per stage, measured from /proc (Linux), so the figures hold when other work shares the cores:
 * - PostgreSQL: the backends serving the bench database (their `postgres: <user> <db> …` process title), utime +
 *   stime sampled every SAMPLE_MS; a backend's CPU after its last sample (≤ one interval) is not seen;
 * - the measured process (ingesta's Node, or psql): per thread. Node names none of its threads, so the split is the
 *   main thread (JavaScript: the COPY protocol, stream writes, events; plus the DuckDB calls it makes synchronously)
 *   against every other thread (DuckDB's workers and the libuv pool its queries run on, file-system writes, V8's GC
 *   helpers). GNU time's total for the process is the check on the sum.
 * Clock ticks are read from `getconf CLK_TCK` (100 almost everywhere).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const SAMPLE_MS = 25;
export const TICK_MS = ((): number => {
  try {
    return 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
  } catch {
    return 10;
  }
})();

export const cpuAvailable = ((): boolean => {
  try {
    readFileSync('/proc/self/stat', 'utf8');
    return true;
  } catch {
    return false;
  }
})();

/** utime + stime (ticks) and the start time of /proc/<path>/stat; undefined when gone. */
function readStat(path: string): { ticks: number; start: string; ppid: number } | undefined {
  try {
    const s = readFileSync(`/proc/${path}/stat`, 'utf8');
    // the command name may hold spaces and parentheses: fields are counted after the last ')'
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { ticks: Number(f[11]) + Number(f[12]), start: f[19] ?? '', ppid: Number(f[1]) };
  } catch {
    return undefined;
  }
}

export interface CpuBreakdown {
  /** CPU of the PostgreSQL backends serving the database, ms. */
  readonly postgresMs: number;
  /** CPU of the measured process's main thread, ms (for Node: JavaScript). */
  readonly mainThreadMs: number;
  /** CPU of the measured process's other threads, ms (for ingesta: DuckDB, libuv, GC helpers). */
  readonly otherThreadsMs: number;
  /** Backends seen. */
  readonly backends: number;
}

/** Samples until stop() is called; `rootPid` is the spawned process (GNU time); its child is the measured one. */
export class CpuSampler {
  private readonly backends = new Map<string, number>();
  private readonly threads = new Map<string, { ticks: number; main: boolean }>();
  private readonly notBackend = new Set<string>();
  private readonly timer: NodeJS.Timeout;
  private rootPid: number | undefined;

  constructor(private readonly database: string) {
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
  }

  /** The process whose threads are measured: `pid` itself, or its only child when `pid` is GNU time. */
  watch(pid: number | undefined): void {
    this.rootPid = pid;
  }

  private measuredPids(): number[] {
    if (this.rootPid === undefined) return [];
    try {
      const children = readFileSync(`/proc/${this.rootPid}/task/${this.rootPid}/children`, 'utf8').trim();
      return children ? children.split(/\s+/).map(Number) : [this.rootPid];
    } catch {
      return [];
    }
  }

  sample(): void {
    if (!cpuAvailable) return;
    let pids: string[];
    try {
      pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
    } catch {
      return;
    }
    for (const pid of pids) {
      const st = readStat(pid);
      if (!st) continue;
      const key = `${pid}:${st.start}`;
      if (this.notBackend.has(key)) continue;
      if (!this.backends.has(key)) {
        let cmd = '';
        try {
          cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          continue;
        }
        if (!new RegExp(`^postgres: (?:\\S+: )?\\S+ ${this.database} `).test(cmd)) {
          // a backend just forked still shows the postmaster's command line until it has set its title
          if (!/postgres/.test(cmd)) this.notBackend.add(key);
          continue;
        }
      }
      this.backends.set(key, st.ticks);
    }
    for (const pid of this.measuredPids()) {
      let tids: string[];
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {
        continue;
      }
      for (const tid of tids) {
        const st = readStat(`${pid}/task/${tid}`);
        if (st) this.threads.set(`${tid}:${st.start}`, { ticks: st.ticks, main: tid === String(pid) });
      }
    }
  }

  /** Stops sampling; backends still open count with their last sample. */
  stop(): CpuBreakdown {
    clearInterval(this.timer);
    const sum = (xs: Iterable<number>) => [...xs].reduce((a, b) => a + b, 0);
    const threads = [...this.threads.values()];
    return {
      postgresMs: sum(this.backends.values()) * TICK_MS,
      mainThreadMs: sum(threads.filter((t) => t.main).map((t) => t.ticks)) * TICK_MS,
      otherThreadsMs: sum(threads.filter((t) => !t.main).map((t) => t.ticks)) * TICK_MS,
      backends: this.backends.size,
    };
  }
}
