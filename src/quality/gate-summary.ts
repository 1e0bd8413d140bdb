/** The quality gate's last result, from the dataset's quality history (`_ingesta_quality`, quality/<run>.json). */
export interface GateSummary {
  /** fail if a check failed, else warn if one warned, else pass (skipped checks do not count). */
  readonly status: 'pass' | 'warn' | 'fail';
  readonly runId: string;
  /** When the results were stored (UTC text); null where the history does not say. */
  readonly checkedAt: string | null;
  /** The failed checks: `check` for a table's gate, `check table` for a run's. */
  readonly failed: readonly string[];
  readonly warned: readonly string[];
}

/** One stored check result, as the quality history keeps it. */
export interface StoredCheck {
  readonly runId: string;
  readonly check: string;
  readonly table: string;
  readonly status: string;
  /** When it was stored (UTC text), if the history says. */
  readonly checkedAt: string | null;
}

/** A gate run's results as one verdict: fail > warn > pass; skipped checks do not count. */
export function summarizeGate(runId: string, checks: readonly StoredCheck[], names: (c: StoredCheck) => string): GateSummary {
  const failed = checks.filter((c) => c.status === 'fail').map(names);
  const warned = checks.filter((c) => c.status === 'warn').map(names);
  const times = checks.map((c) => c.checkedAt).filter((t): t is string => t !== null).sort();
  return { status: failed.length > 0 ? 'fail' : warned.length > 0 ? 'warn' : 'pass', runId, checkedAt: times.at(-1) ?? null, failed, warned };
}

/**
 * Per run: its gate's verdict (checks named `check table`); per table: the verdict of the newest gate run that checked
 * it (checks named `check`). Run ids sort by time.
 */
export function gateSummaries(checks: readonly StoredCheck[]): { byRun: Map<string, GateSummary>; byTable: Map<string, GateSummary> } {
  const runs = new Map<string, StoredCheck[]>();
  for (const c of checks) runs.set(c.runId, [...(runs.get(c.runId) ?? []), c]);
  const byRun = new Map([...runs].map(([runId, cs]) => [runId, summarizeGate(runId, cs, (c) => `${c.check} ${c.table}`)]));
  const latest = new Map<string, string>();
  for (const c of checks) if ((latest.get(c.table) ?? '') < c.runId) latest.set(c.table, c.runId);
  const byTable = new Map(
    [...latest].map(([table, runId]) => [table, summarizeGate(runId, runs.get(runId)!.filter((c) => c.table === table), (c) => c.check)]),
  );
  return { byRun, byTable };
}
