import type { CheckResult, CheckStatus, QualityReport } from './check-types.js';

/** How many recent runs the report's history covers. */
export const HISTORY_RUNS = 30;

/** A run as the destination's history recorded it, with what it loaded per table. */
export interface HistoryRun {
  readonly runId: string;
  /** loaded | failed (from the run record); `checked` for a gate without a run record (the current --solo-validar). */
  readonly status: string;
  readonly finishedAt: string | null;
  readonly tables: readonly { readonly table: string; readonly rowsLoaded: number | null; readonly rowsInDestination: number | null }[];
}

/** A stored check result of a past run (the `_ingesta_quality` row, or Athena's quality record). */
export interface HistoryCheck {
  readonly runId: string;
  readonly check: string;
  readonly table: string;
  readonly status: CheckStatus;
  readonly observed: string | null;
  /** As stored; older results spell the keys in snake_case (max_value, age_hours), read by `detail`. */
  readonly details: Readonly<Record<string, unknown>> | null;
}

/** The last runs of a dataset and their stored check results, oldest run first. */
export interface QualityHistory {
  readonly runs: readonly HistoryRun[];
  readonly checks: readonly HistoryCheck[];
}

/** One run's point of a table's series; null where the run did not record it. */
export interface TablePoint {
  readonly runId: string;
  readonly finishedAt: string | null;
  /** Rows in the destination: the row_count check's observation, else the load record's. */
  readonly rows: number | null;
  readonly rowsLoaded: number | null;
  /** Age of the newest freshness value when the gate ran, in hours. */
  readonly freshnessHours: number | null;
  /** The worst status among the table's checks in that run (null: no check stored). */
  readonly status: CheckStatus | null;
  readonly failed: number;
}

export interface RunPoint {
  readonly runId: string;
  readonly finishedAt: string | null;
  readonly fail: number;
  readonly warn: number;
  readonly checks: number;
}

const WORST: readonly CheckStatus[] = ['fail', 'warn', 'pass', 'skip'];

/** A details value by its camelCase name, or the snake_case name that results stored by earlier versions used. */
export function detail(details: Readonly<Record<string, unknown>> | null | undefined, name: string): unknown {
  if (!details) return undefined;
  return details[name] ?? details[name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];
}

const numberOrNull = (v: unknown): number | null => (v === null || v === undefined || v === '' || !Number.isFinite(Number(v)) ? null : Number(v));

/**
 * The history with the current report as its last run: after a load the report is stored already (same run id);
 * a --solo-validar report is not stored, so it is added as a run of its own.
 */
export function withCurrentRun(history: QualityHistory, report: QualityReport): QualityHistory {
  if (history.runs.some((r) => r.runId === report.runId) && history.checks.some((c) => c.runId === report.runId)) return history;
  const current = (c: CheckResult): HistoryCheck => ({
    runId: report.runId, check: c.check, table: c.table, status: c.status, observed: c.observed === null ? null : String(c.observed), details: c.details ?? null,
  });
  const known = history.runs.find((r) => r.runId === report.runId);
  const run: HistoryRun = known ?? { runId: report.runId, status: 'checked', finishedAt: report.finishedAt, tables: [] };
  return {
    runs: [...history.runs.filter((r) => r.runId !== report.runId), run],
    checks: [...history.checks.filter((c) => c.runId !== report.runId), ...report.checks.map(current)],
  };
}

/** Per table, one point per run, oldest first. */
export function tableSeries(history: QualityHistory, table: string): TablePoint[] {
  return history.runs.map((run) => {
    const checks = history.checks.filter((c) => c.runId === run.runId && c.table === table);
    const load = run.tables.find((t) => t.table === table);
    const rowCount = checks.find((c) => c.check === 'row_count');
    const freshness = checks.find((c) => c.check === 'freshness');
    const status = WORST.find((s) => checks.some((c) => c.status === s)) ?? null;
    return {
      runId: run.runId,
      finishedAt: run.finishedAt,
      rows: numberOrNull(rowCount?.observed) ?? load?.rowsInDestination ?? null,
      rowsLoaded: load?.rowsLoaded ?? null,
      freshnessHours: freshness && freshness.status !== 'skip' ? numberOrNull(detail(freshness.details, 'ageHours')) : null,
      status,
      failed: checks.filter((c) => c.status === 'fail').length,
    };
  });
}

/** Per run, how many checks failed and warned. */
export function runSeries(history: QualityHistory): RunPoint[] {
  return history.runs.map((run) => {
    const checks = history.checks.filter((c) => c.runId === run.runId);
    return {
      runId: run.runId, finishedAt: run.finishedAt, checks: checks.length,
      fail: checks.filter((c) => c.status === 'fail').length, warn: checks.filter((c) => c.status === 'warn').length,
    };
  });
}

/** Keeps the last `runs` runs (by run id, which sorts by start time) and their checks. */
export function lastRuns(history: QualityHistory, runs: number = HISTORY_RUNS): QualityHistory {
  const kept = [...history.runs].sort((a, b) => a.runId.localeCompare(b.runId)).slice(-Math.max(1, runs));
  const ids = new Set(kept.map((r) => r.runId));
  return { runs: kept, checks: history.checks.filter((c) => ids.has(c.runId)) };
}
