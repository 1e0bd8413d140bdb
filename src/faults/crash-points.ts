/**
 * Named points where a test can make ingesta die as a power cut would (SIGKILL, no cleanup), to prove that a crash
 * at any step leaves the destination and its state intact. Inert unless INGESTA_CRASH_AT names the point.
 */
export type CrashPoint = 'during-extract' | 'after-extract' | 'before-commit' | 'after-commit';

export function crashPoint(point: CrashPoint): void {
  if (process.env.INGESTA_CRASH_AT === point) process.kill(process.pid, 'SIGKILL');
}
