import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * The process that wrote a load package: host, pid and the process's start time (so a pid reused by another process
 * is not taken for the owner). Recovery leaves a package alone while its owner is alive.
 */
export interface PackageOwner {
  readonly host: string;
  readonly pid: number;
  /** Start time of the process in clock ticks since boot (Linux /proc); null where it cannot be read. */
  readonly processStart: string | null;
}

/** Field 22 of /proc/<pid>/stat (after the parenthesised command name, which may hold spaces). */
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

export function currentOwner(): PackageOwner {
  return { host: hostname(), pid: process.pid, processStart: processStart(process.pid) };
}

/**
 * Whether the package's owner is still running: same host, the pid exists, and (where known) it is the same process.
 * A run on another host cannot be checked here; its package is in this destination's folder, and the caller holds
 * the destination's lock, which that run no longer does: it is not alive as far as this destination is concerned.
 * A package of this very process (a library caller running runs side by side) counts as alive.
 */
export function ownerIsAlive(owner: PackageOwner): boolean {
  if (owner.host !== hostname() || !Number.isInteger(owner.pid) || owner.pid <= 0) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = processStart(owner.pid);
  return owner.processStart === null || start === null || start === owner.processStart;
}
