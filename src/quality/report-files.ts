import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DestinationError, messageOf } from '../errors.js';
import type { CheckStatus, QualityReport } from './check-types.js';

/** Writes a file whole or not at all (temp file + rename), creating its folder. */
function writeAtomically(file: string, content: string): void {
  try {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, content);
    renameSync(tmp, file);
  } catch (cause) {
    throw new DestinationError(`Cannot write the report ${file}: ${messageOf(cause)}`, { cause });
  }
}

/** --report-json: { run_id, env, dataset, started_at, finished_at, checks: [...] } plus a status count. */
export function writeJsonReport(file: string, report: QualityReport): void {
  writeAtomically(file, `${JSON.stringify({ ...report, summary: countByStatus(report) }, null, 2)}\n`);
}

export function countByStatus(report: QualityReport): Record<CheckStatus, number> {
  const counts: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const c of report.checks) counts[c.status] += 1;
  return counts;
}

const COLORS: Record<CheckStatus, string> = { pass: '#1a7f37', warn: '#9a6700', fail: '#cf222e', skip: '#6e7781' };
const BACKGROUNDS: Record<CheckStatus, string> = { pass: '#dafbe1', warn: '#fff8c5', fail: '#ffebe9', skip: '#f6f8fa' };

const escape = (value: unknown): string =>
  String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const badge = (status: CheckStatus) =>
  `<span class="badge" style="color:${COLORS[status]};background:${BACKGROUNDS[status]}">${status}</span>`;

/** --report-html: one self-contained page (no external assets): verdict, counts, freshness per table, every check. */
export function renderHtmlReport(report: QualityReport): string {
  const counts = countByStatus(report);
  const verdict: CheckStatus = counts.fail > 0 ? 'fail' : counts.warn > 0 ? 'warn' : 'pass';
  const freshness = report.checks.filter((c) => c.check === 'freshness');
  const rows = [...report.checks]
    .sort((a, b) => order(a.status) - order(b.status) || a.table.localeCompare(b.table))
    .map(
      (c) => `<tr class="${c.status}"><td>${badge(c.status)}</td><td>${escape(c.check)}</td><td>${escape(c.table)}</td>` +
        `<td class="num">${escape(c.observed)}</td><td class="num">${escape(c.expected)}</td><td>${escape(c.message)}</td></tr>`,
    )
    .join('\n');
  const freshRows = freshness
    .map((c) => {
      const d = (c.details ?? {}) as Record<string, unknown>;
      return `<tr><td>${escape(c.table)}</td><td>${escape(d.column ?? '—')}</td><td>${escape(d.max_value ?? '—')}</td>` +
        `<td class="num">${escape(d.age_hours ?? '—')}</td><td class="num">${escape(c.expected)}</td><td>${badge(c.status)}</td></tr>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>ingesta quality report — ${escape(report.dataset)} — ${escape(verdict)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2328;max-width:1200px}
h1{font-size:1.4rem;margin:0 0 .25rem} h2{font-size:1.1rem;margin-top:2rem} .meta{color:#656d76}
.verdict{display:inline-block;padding:.3rem .8rem;border-radius:6px;font-weight:600;font-size:1.1rem;margin:.75rem 0}
.counts span{margin-right:1rem} table{border-collapse:collapse;width:100%;margin-top:.5rem}
th,td{border-bottom:1px solid #d0d7de;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa} td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.badge{padding:.1rem .45rem;border-radius:999px;font-weight:600;font-size:.85em;text-transform:uppercase}
tr.fail td{background:#fff5f5}
</style></head><body>
<h1>Quality report · ${escape(report.dataset)}</h1>
<div class="meta">run ${escape(report.run_id)} · env ${escape(report.env)} · ${escape(report.mode === 'only' ? 'validation only' : 'after load')} · ${escape(report.started_at)} → ${escape(report.finished_at)}</div>
<div class="verdict" style="color:${COLORS[verdict]};background:${BACKGROUNDS[verdict]}">${verdict === 'fail' ? 'FAILED' : verdict === 'warn' ? 'PASSED with warnings' : 'PASSED'}</div>
<div class="counts">${(['pass', 'warn', 'fail', 'skip'] as const).map((s) => `<span>${badge(s)} ${counts[s]}</span>`).join('')}</div>
<h2>Freshness per table</h2>
<table><thead><tr><th>table</th><th>column</th><th>latest value</th><th>age (h)</th><th>threshold (h)</th><th>status</th></tr></thead>
<tbody>
${freshRows}
</tbody></table>
<h2>All checks</h2>
<table><thead><tr><th>status</th><th>check</th><th>table</th><th>observed</th><th>expected</th><th>message</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}

function order(status: CheckStatus): number {
  return { fail: 0, warn: 1, pass: 2, skip: 3 }[status];
}

export function writeHtmlReport(file: string, report: QualityReport): void {
  writeAtomically(file, renderHtmlReport(report));
}
