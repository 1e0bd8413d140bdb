import type { CheckResult, CheckStatus, QualityReport } from './check-types.js';
import { REPORT_CSS, REPORT_SCRIPT } from './report-assets.js';
import { escapeHtml as escape } from './report-charts.js';
import { detail, HISTORY_RUNS, type QualityHistory } from './report-history.js';
import { trendsSection } from './report-trends.js';

/**
 * --report-html: one self-contained page (inline style, inline SVG, a few lines of inline script; nothing fetched),
 * laid out to be read in five seconds: the verdict, then the failed checks with the keys of the rows to fix (above the
 * fold), then the history (failures per run; per table rows, loads, freshness and checks over the last runs), then
 * every check with a status / table filter and the SQL it ran.
 */

const ORDER: Readonly<Record<CheckStatus, number>> = { fail: 0, warn: 1, pass: 2, skip: 3 };

export function countByStatus(report: QualityReport): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const c of report.checks) counts[c.status] += 1;
  return counts;
}

const seconds = (r: QualityReport) => Math.max(0, Math.round((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 100) / 10);

const badge = (status: CheckStatus) => `<span class="badge ${status}">${status}</span>`;

/** The offending keys a person goes and fixes, as chips: the examples of a check (and an orphan's missing parents). */
function keys(c: CheckResult): string {
  const list = (label: string, value: unknown) =>
    typeof value === 'string' && value !== ''
      ? `<div class="keys"><span class="what">${label}</span>${value.split('; ').map((k) => `<code>${escape(k)}</code>`).join('')}</div>`
      : '';
  const examples = detail(c.details, 'examples');
  if (c.check === 'referential_integrity') return list('orphan rows', examples) + list('missing parents', detail(c.details, 'missing'));
  if (c.check === 'duplicates' || c.check === 'unique') return list('duplicated keys', examples);
  return list('values', examples);
}

function problems(checks: readonly CheckResult[]): string {
  const bad = checks.filter((c) => c.status === 'fail' || c.status === 'warn');
  if (bad.length === 0) return `<section id="problems" class="clean"><h2>No check failed or warned</h2></section>`;
  const failed = bad.filter((c) => c.status === 'fail').length;
  const rows = bad
    .map(
      (c) =>
        `<tr class="${c.status}"><td>${badge(c.status)}</td><td><strong>${escape(c.table)}</strong></td><td>${escape(c.check)}</td>` +
        `<td class="num">${escape(c.observed)}</td><td>${escape(c.message)}${keys(c)}</td></tr>`,
    )
    .join('\n');
  const title = [failed > 0 ? `${failed} failed` : '', bad.length - failed > 0 ? `${bad.length - failed} warned` : ''].filter(Boolean).join(', ') + ` check${bad.length === 1 ? '' : 's'}`;
  return `<section id="problems"><h2>${escape(title)}</h2>
<table><thead><tr><th>status</th><th>table</th><th>check</th><th>found</th><th>what is wrong, and the rows to fix</th></tr></thead>
<tbody>
${rows}
</tbody></table></section>`;
}

function allChecks(checks: readonly CheckResult[]): string {
  const tables = [...new Set(checks.map((c) => c.table))].sort((a, b) => a.localeCompare(b));
  const rows = checks
    .map(
      (c) =>
        `<tr class="${c.status}" data-status="${c.status}" data-table="${escape(c.table)}"><td>${badge(c.status)}</td><td>${escape(c.check)}</td><td>${escape(c.table)}</td>` +
        `<td class="num">${escape(c.observed)}</td><td class="num">${escape(c.expected)}</td><td>${escape(c.message)}` +
        (c.sql ? `<details class="sql"><summary>SQL</summary><pre>${escape(c.sql)}</pre></details>` : '') +
        `</td></tr>`,
    )
    .join('\n');
  const option = (value: string, label: string) => `<option value="${escape(value)}">${escape(label)}</option>`;
  return `<section id="checks"><h2>All checks</h2>
<div class="filter"><label>status <select id="filter-status">${option('all', 'all')}${option('problems', 'fail + warn')}${(['fail', 'warn', 'pass', 'skip'] as const).map((s) => option(s, s)).join('')}</select></label>
<label>table <select id="filter-table">${option('all', 'all tables')}${tables.map((t) => option(t, t)).join('')}</select></label>
<span id="filter-shown" class="meta">${checks.length} of ${checks.length} checks shown</span></div>
<table><thead><tr><th>status</th><th>check</th><th>table</th><th>observed</th><th>expected</th><th>message</th></tr></thead>
<tbody>
${rows}
</tbody></table></section>`;
}

function freshnessTable(checks: readonly CheckResult[]): string {
  const rows = checks
    .filter((c) => c.check === 'freshness')
    .map(
      (c) =>
        `<tr><td>${escape(c.table)}</td><td>${escape(detail(c.details, 'column') ?? '—')}</td><td>${escape(detail(c.details, 'maxValue') ?? '—')}</td>` +
        `<td class="num">${escape(detail(c.details, 'ageHours') ?? '—')}</td><td class="num">${escape(c.expected)}</td><td>${badge(c.status)}</td></tr>`,
    )
    .join('\n');
  return `<section id="freshness"><h2>Freshness per table</h2>
<table><thead><tr><th>table</th><th>column</th><th>latest value</th><th>age (h)</th><th>threshold (h)</th><th>status</th></tr></thead>
<tbody>
${rows}
</tbody></table></section>`;
}

/** The page; `history` (readQualityHistory) adds the trends over the last runs. */
export function renderHtmlReport(report: QualityReport, history?: QualityHistory): string {
  const counts = countByStatus(report);
  const verdict: CheckStatus = counts.fail > 0 ? 'fail' : counts.warn > 0 ? 'warn' : 'pass';
  const checks = [...report.checks].sort((a, b) => ORDER[a.status] - ORDER[b.status] || a.table.localeCompare(b.table) || a.check.localeCompare(b.check));
  const verdictText = verdict === 'fail' ? 'FAILED' : verdict === 'warn' ? 'PASSED with warnings' : 'PASSED';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ingesta quality report — ${escape(report.dataset)} — ${escape(verdictText)}</title>
<style>${REPORT_CSS}</style></head><body><main>
<header><h1>Quality report · ${escape(report.dataset)}</h1>
<span class="verdict ${verdict}">${verdictText}</span>
<span class="counts">${(['fail', 'warn', 'pass', 'skip'] as const).map((s) => `<span>${badge(s)} ${counts[s]}</span>`).join('')}</span>
<span class="meta">${escape(report.startedAt.slice(0, 19).replace('T', ' '))} UTC · ${seconds(report)} s · ${report.mode === 'only' ? 'validation only' : 'after a load'} · env ${escape(report.env)} · run ${escape(report.runId)}</span></header>
${problems(checks)}
${trendsSection(report, history)}
${allChecks(checks)}
${freshnessTable(checks)}
<p class="meta">ingesta · history: the last ${HISTORY_RUNS} runs at most, from the dataset's run records and stored gate results.</p>
</main><script>${REPORT_SCRIPT}</script></body></html>
`;
}
