import { describe, expect, it } from 'vitest';
import type { QualityReport } from '../../src/quality/check-types.js';
import { bars, sparkline } from '../../src/quality/report-charts.js';
import { renderHtmlReport } from '../../src/quality/report-html.js';
import { detail, lastRuns, runSeries, tableSeries, withCurrentRun, type QualityHistory } from '../../src/quality/report-history.js';

const stored: QualityHistory = {
  runs: [
    { runId: 'r2', status: 'loaded', finishedAt: '2026-01-02 10:00:00+00', tables: [{ table: 'a', rowsLoaded: 5, rowsInDestination: 15 }] },
    { runId: 'r1', status: 'loaded', finishedAt: '2026-01-01 10:00:00+00', tables: [{ table: 'a', rowsLoaded: 10, rowsInDestination: 10 }] },
  ],
  checks: [
    // stored by an earlier version: snake_case details
    { runId: 'r1', check: 'freshness', table: 'a', status: 'pass', observed: '2', details: { age_hours: 2, max_value: 'x' } },
    { runId: 'r1', check: 'row_count', table: 'a', status: 'pass', observed: '10', details: null },
    { runId: 'r2', check: 'freshness', table: 'a', status: 'fail', observed: '50', details: { ageHours: 50 } },
    { runId: 'r2', check: 'duplicates', table: 'a', status: 'warn', observed: '1', details: null },
  ],
};

const report: QualityReport = {
  runId: 'r3', env: 'local', dataset: 'ds', mode: 'only', startedAt: '2026-01-03T10:00:00.000Z', finishedAt: '2026-01-03T10:00:01.000Z',
  checks: [
    { check: 'row_count', table: 'a', status: 'fail', observed: 14, expected: 15, message: '1 row missing', sql: 'SELECT count(*) AS n FROM "ds"."a"' },
    { check: 'freshness', table: 'a', status: 'pass', observed: 1, expected: 48, message: 'fresh', details: { ageHours: 1 } },
  ],
};

describe('the report history', () => {
  it('reads details by their camelCase name and by the snake_case name older results were stored with', () => {
    expect(detail({ ageHours: 1 }, 'ageHours')).toBe(1);
    expect(detail({ age_hours: 2 }, 'ageHours')).toBe(2);
    expect(detail(null, 'ageHours')).toBeUndefined();
  });

  it('orders runs by id, adds a --solo-validar report as the newest run, and builds a series per table', () => {
    const history = withCurrentRun(lastRuns(stored), report);
    expect(history.runs.map((r) => [r.runId, r.status])).toEqual([['r1', 'loaded'], ['r2', 'loaded'], ['r3', 'checked']]);
    expect(tableSeries(history, 'a')).toMatchObject([
      { runId: 'r1', rows: 10, rowsLoaded: 10, freshnessHours: 2, status: 'pass', failed: 0 },
      { runId: 'r2', rows: 15, rowsLoaded: 5, freshnessHours: 50, status: 'fail', failed: 1 },
      { runId: 'r3', rows: 14, rowsLoaded: null, freshnessHours: 1, status: 'fail', failed: 1 },
    ]);
    expect(runSeries(history).map((r) => [r.fail, r.warn])).toEqual([[0, 0], [1, 1], [1, 0]]);
    expect(lastRuns(stored, 1).runs.map((r) => r.runId)).toEqual(['r2']);
    expect(lastRuns(stored, 1).checks.every((c) => c.runId === 'r2')).toBe(true);
  });

  it('a report stored already (after a load) is not added twice', () => {
    const after = { ...report, runId: 'r2', mode: 'after-load' as const };
    expect(withCurrentRun(stored, after)).toBe(stored);
  });

  it('renders the history as inline SVG, the SQL collapsed, and escapes what it quotes', () => {
    const page = renderHtmlReport({ ...report, dataset: '<ds>' }, stored);
    expect(page).toContain('Quality report · &lt;ds&gt;');
    expect(page).toContain('<h2>Over the last 3 runs');
    expect(page).toMatch(/<details class="sql"><summary>SQL<\/summary><pre>SELECT count\(\*\) AS n FROM &quot;ds&quot;.&quot;a&quot;<\/pre><\/details>/);
    expect(page).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);
    expect(renderHtmlReport(report)).toContain('No history was read');
  });

  it('charts: gaps where a run has no value, a flat line for equal values, no data said as such', () => {
    const line = sparkline([{ value: 1, label: 'a' }, { value: null, label: 'b' }, { value: 2, label: 'c' }, { value: 3, label: 'd' }], 'x');
    expect(line.match(/<polyline/g)).toHaveLength(1); // the lone first point has no segment
    expect(line.match(/<circle/g)).toHaveLength(3);
    expect(sparkline([{ value: 7, label: 'a' }, { value: 7, label: 'b' }], 'x', { fromZero: false })).toMatch(/points="[\d.]+,17 [\d.]+,17"/);
    expect(sparkline([{ value: null, label: 'a' }], 'x')).toContain('no data');
    expect(bars([{ parts: [2, 1], label: 'r1' }, { parts: [0, 0], label: 'r2' }], ['red', 'yellow'], 'x').match(/<rect/g)).toHaveLength(3);
  });
});
