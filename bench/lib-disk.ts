/**
 * Disk use of a run: the peak size of its load packages while it runs (sampled), what is left of them afterwards,
 * and the DuckDB file it wrote. Files written and removed between two samples are not seen; the package's CSV files
 * live for the whole run (they are what a crashed run is recovered from), so the peak is not missed in practice.
 */
import { readdirSync, statSync, type Dirent } from 'node:fs';
import { join } from 'node:path';

/** Bytes of every regular file under `dir` (0 when it does not exist; files vanishing mid-walk are skipped). */
export function folderBytes(dir: string): number {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let total = 0;
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += folderBytes(p);
    else if (e.isFile()) total += fileBytes(p);
  }
  return total;
}

/** A file's size, 0 when it does not exist. */
export function fileBytes(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

export interface DiskUse {
  /** Largest size of the package folder seen while the run lasted. */
  readonly packagePeakBytes: number;
  /** What the run left in the package folder. */
  readonly packageLeftBytes: number;
  /** The DuckDB file (and its WAL) after the run. */
  readonly duckdbBytes: number;
}

/** Samples the size of a package folder every `intervalMs` until stop(). */
export class DiskSampler {
  private peak = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly packageDir: string,
    private readonly duckdbFile: string,
    intervalMs = 200,
  ) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.sample();
  }

  private sample(): number {
    const bytes = folderBytes(this.packageDir);
    if (bytes > this.peak) this.peak = bytes;
    return bytes;
  }

  stop(): DiskUse {
    clearInterval(this.timer);
    const left = this.sample();
    return { packagePeakBytes: this.peak, packageLeftBytes: left, duckdbBytes: fileBytes(this.duckdbFile) + fileBytes(`${this.duckdbFile}.wal`) };
  }
}
