import type { QualityReport } from './check-types.js';
import { bars, escapeHtml, sparkline, STATUS_COLORS, statusStrip, type ChartPoint } from './report-charts.js';
import { runSeries, tableSeries, withCurrentRun, type QualityHistory, type TablePoint } from './report-history.js';

/** The report's history section: failures per run for the dataset, then per table its rows, loads, freshness and checks. */

const fmt = (n: number | null) => (n === null ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: 2 }));
const when = (p: { runId: string; finishedAt: string | null }) => (p.finishedAt ? `${p.finishedAt.slice(0, 16).replace('T', ' ')} (${p.runId})` : p.runId);

function tableRow(table: string, points: readonly TablePoint[], freshnessLimit: number | undefined): string {
  const latest = points.at(-1);
  const status = latest?.status ?? null;
  const rows: ChartPoint[] = points.map((p) => ({ value: p.rows, status: p.status, label: `${when(p)}: ${fmt(p.rows)} row${p.rows === 1 ? '' : 's'}` }));
  const fresh: ChartPoint[] = points.map((p) => ({ value: p.freshnessHours, status: p.status, label: `${when(p)}: newest value ${fmt(p.freshnessHours)} h old` }));
  const strip: ChartPoint[] = points.map((p) => ({ value: null, status: p.status, label: `${when(p)}: ${p.status ?? 'not checked'}${p.failed > 0 ? `, ${p.failed} failed` : ''}` }));
  const loaded = points.map((p) => ({ parts: [p.rowsLoaded ?? 0], label: `${when(p)}: ${p.rowsLoaded === null ? 'not loaded' : `${fmt(p.rowsLoaded)} row${p.rowsLoaded === 1 ? '' : 's'} loaded`}` }));
  const lastLoaded = [...points].reverse().find((p) => p.rowsLoaded !== null)?.rowsLoaded ?? null;
  const lastFresh = latest?.freshnessHours ?? null;
  return (
    `<tr data-table="${escapeHtml(table)}" data-status="${status ?? 'skip'}"><th scope="row">${escapeHtml(table)}</th>` +
    `<td>${status ? `<span class="badge ${status}">${status}</span>` : ''}</td>` +
    `<td class="spark">${sparkline(rows, `rows of ${table} per run`, { fromZero: false })}<span class="last">${fmt(latest?.rows ?? null)}</span></td>` +
    `<td class="spark">${bars(loaded, ['#54aeff'], `rows loaded into ${table} per run`)}<span class="last">${fmt(lastLoaded)}</span></td>` +
    `<td class="spark">${sparkline(fresh, `freshness of ${table} per run, hours`, { color: '#8250df', ...(freshnessLimit !== undefined ? { limit: freshnessLimit } : {}) })}<span class="last">${lastFresh === null ? '—' : `${fmt(lastFresh)} h`}</span></td>` +
    `<td class="spark">${statusStrip(strip, `checks of ${table} per run`)}<span class="last">${latest && latest.failed > 0 ? `${latest.failed} failed` : ''}</span></td></tr>`
  );
}

export function trendsSection(report: QualityReport, stored: QualityHistory | undefined): string {
  if (!stored) {
    return `<section id="history"><h2>History</h2><p class="meta">No history was read for this report (the destination's <code>_ingesta_quality</code> and run records).</p></section>`;
  }
  const history = withCurrentRun(stored, report);
  const runs = runSeries(history);
  const failures = bars(
    runs.map((r) => ({ parts: [r.fail, r.warn], label: `${when(r)}: ${r.fail} failed, ${r.warn} warned of ${r.checks} checks` })),
    [STATUS_COLORS.fail, STATUS_COLORS.warn],
    'failed and warned checks per run',
    { width: 560, height: 56 },
    true,
  );
  const tables = [...new Set(report.checks.map((c) => c.table))].sort((a, b) => a.localeCompare(b));
  const limits = new Map(report.checks.filter((c) => c.check === 'freshness' && typeof c.expected === 'number').map((c) => [c.table, c.expected as number]));
  const first = runs[0];
  const span = first && runs.length > 1 ? ` · ${when(first)} → ${when(runs.at(-1)!)}` : '';
  return `<section id="history">
<h2>Over the last ${runs.length} run${runs.length === 1 ? '' : 's'}<span class="meta">${escapeHtml(span)}</span></h2>
<div class="failures"><div><strong>Failed and warned checks per run</strong><div class="meta"><span class="key fail"></span>fail <span class="key warn"></span>warn · newest on the right</div></div>${failures}</div>
<table class="trends"><thead><tr><th>table</th><th>now</th><th>rows in the destination</th><th>rows loaded per run</th><th>freshness (age of newest value)</th><th>checks per run</th></tr></thead>
<tbody>
${tables.map((t) => tableRow(t, tableSeries(history, t), limits.get(t))).join('\n')}
</tbody></table>
</section>`;
}
