/**
 * Named points where a test can make ingesta die as a power cut would (SIGKILL, no cleanup), to prove that a crash
 * at any step leaves the destination and its state intact. Inert unless INGESTA_CRASH_AT names the point.
 *
 * The one documented exception to "environment variables are read in src/config/ only" (test/unit/architecture.test.ts):
 * these are test hooks of the kill harnesses, not settings. They are read from the process's own environment at the
 * point itself, deep inside the destinations (crash-points are called from the DuckDB and Athena load steps), so that
 * no RunConfig field, constructor option or library hook exists that a user could set by mistake.
 */
export type CrashPoint = 'during-extract' | 'after-extract' | 'before-commit' | 'after-commit';

export function crashPoint(point: CrashPoint): void {
  if (process.env.INGESTA_CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}

/** Where a test can make a step wait forever with nothing open, as a stream paused for good would. */
export type StallPoint = 'run-start';

/**
 * Never settles when INGESTA_STALL_AT names the point (else resolves at once): Node then runs out of work with the
 * run unfinished, which the CLI must report as a failure (src/cli/main.ts), never as success.
 */
export function stallPoint(point: StallPoint): Promise<void> {
  return process.env.INGESTA_STALL_AT === point ? new Promise<void>(() => undefined) : Promise.resolve();
}
