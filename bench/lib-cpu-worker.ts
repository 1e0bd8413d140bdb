/**
 * The /proc sampler of lib-cpu.ts in a worker thread, for benches whose own process does measured work (bench:athena:
 * the stand-ins run there). Sampling every 25 ms costs a few ms of CPU each time; on the main thread it would hold
 * back the stand-ins' answers and count as their CPU. In a worker it does neither, and its own CPU (the worker
 * thread's utime + stime, start-up included) is reported so the caller can subtract it from the process's.
 */
import { readFileSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { CpuSampler, TICK_MS, type CpuBreakdown } from './lib-cpu.js';

type ToWorker = { begin: string } | { watch: number | undefined } | { end: true };
type FromWorker = { ready: true } | { begun: true } | { result: CpuBreakdown; threadMs: number };

/** utime + stime of the calling thread, ms. */
function threadCpuMs(): number {
  try {
    const s = readFileSync('/proc/thread-self/stat', 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * TICK_MS;
  } catch {
    return 0;
  }
}

if (!isMainThread && parentPort && (workerData as { cpuWorker?: boolean } | undefined)?.cpuWorker) {
  const port = parentPort;
  let sampler: CpuSampler | undefined;
  let since = 0;
  port.on('message', (m: ToWorker) => {
    if ('begin' in m) {
      since = threadCpuMs();
      sampler = new CpuSampler(m.begin);
      port.postMessage({ begun: true } satisfies FromWorker);
    } else if ('watch' in m) sampler?.watch(m.watch);
    else if (sampler) {
      const result = sampler.stop();
      sampler = undefined;
      port.postMessage({ result, threadMs: threadCpuMs() - since } satisfies FromWorker);
    }
  });
  port.postMessage({ ready: true } satisfies FromWorker);
}

/**
 * A thread that runs CpuSamplers: started once (its start-up is then outside every measure), one measure at a time
 * between begin() and end().
 */
export class WorkerCpuSampler {
  private constructor(private readonly worker: Worker) {}

  static start(): Promise<WorkerCpuSampler> {
    // the bench runs under tsx: the worker registers tsx's loader before it imports this (TypeScript) module
    const tsx = import.meta.resolve('tsx/esm/api');
    const code = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(import.meta.url)}); })`;
    const worker = new Worker(code, { eval: true, workerData: { cpuWorker: true } });
    return new Promise((resolve, reject) => {
      worker.once('error', reject);
      worker.once('message', () => resolve(new WorkerCpuSampler(worker)));
    });
  }

  private next<T extends FromWorker>(send: ToWorker, done: (m: FromWorker) => m is T): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker) => {
        if (!done(m)) return;
        this.worker.off('message', onMessage);
        this.worker.off('error', reject);
        resolve(m);
      };
      this.worker.on('message', onMessage);
      this.worker.once('error', reject);
      this.worker.postMessage(send);
    });
  }

  /** Starts sampling the backends of `database` (and the process given to watch()). */
  async begin(database: string): Promise<void> {
    await this.next({ begin: database }, (m): m is { begun: true } => 'begun' in m);
  }

  watch(pid: number | undefined): void {
    this.worker.postMessage({ watch: pid } satisfies ToWorker);
  }

  /** The breakdown since begin(), and the sampler thread's own CPU over that time (ms). */
  async end(): Promise<CpuBreakdown & { samplerMs: number }> {
    const m = await this.next({ end: true }, (x): x is { result: CpuBreakdown; threadMs: number } => 'result' in x);
    return { ...m.result, samplerMs: m.threadMs };
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }
}
