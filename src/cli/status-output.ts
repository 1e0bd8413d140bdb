import type { DatasetStatusReport, StatusReport } from '../pipeline/operations.js';
import type { GateSummary } from '../quality/gate-summary.js';
import { textTable } from './text-table.js';

const nf = new Intl.NumberFormat('en-US');
const count = (n: number | null) => (n === null ? '' : nf.format(n));
/** 2026-12-01 21:20:05.123+00 → 2026-12-01 21:20:05 */
const time = (t: string | null) => (t ?? '').replace('T', ' ').slice(0, 19);

/** A table's last gate: "FAIL 2026-12-01 21:20:05"; empty when no gate checked it. */
function gateCell(gate: GateSummary | null): string {
  return gate ? `${gate.status.toUpperCase()} ${time(gate.checkedAt)}`.trim() : '';
}

/** A run's outcome: a load whose gate failed never reads as a plain "loaded". */
function runStatus(status: string, gate: GateSummary | null): string {
  if (status !== 'loaded' || !gate) return status;
  return gate.status === 'fail' ? 'loaded, gate FAILED' : gate.status === 'warn' ? 'loaded, gate warned' : 'loaded, gate passed';
}

function runMessage(message: string | null, gate: GateSummary | null): string {
  if (gate?.status === 'fail') return `failed checks: ${gate.failed.join('; ')}`.slice(0, 120);
  return (message ?? '').slice(0, 120);
}

function datasetText(d: DatasetStatusReport): string {
  const fresh = new Map(d.freshness.map((f) => [f.table, f]));
  const tables =
    d.tables.length === 0
      ? 'no table loaded yet (every run so far failed: see the runs below)'
      : textTable(
          ['table', 'last load', 'run', 'mode', 'rows', 'last run rows', 'cursor', 'freshness', 'last gate', 'failed checks'],
          d.tables.map((t) => {
            const f = fresh.get(t.table);
            return [
              t.table, time(t.lastLoadedAt), t.lastRunId ?? '', t.mode ?? '', count(t.rows), count(t.rowsLoaded),
              t.cursorValue ? `${t.cursorColumn} = ${t.cursorValue}` : '', f ? `${f.status}${f.observed !== null ? ` (${String(f.observed)} h)` : ''}` : '',
              gateCell(t.gate), t.gate?.failed.join(', ') ?? '',
            ];
          }),
          new Set([4, 5]),
        );
  const runs = textTable(
    ['run', 'status', 'finished', 'tables', 'message'],
    d.runs.map((r) => [r.runId, runStatus(r.status, r.gate), time(r.finishedAt), String(r.tables.length), runMessage(r.message, r.gate)]),
  );
  return `${d.dataset}\n\n${tables}\n\nlast runs\n${runs}\n`;
}

/**
 * `ingesta status` as text: per dataset, its tables (rows now, rows the last run loaded, cursor, freshness, last gate
 * and its failed checks) and its last runs; then one line saying what was skipped, if anything.
 */
export function statusText(report: StatusReport): string {
  const header = `${report.destination} (${report.env}): ${report.datasets.length === 1 ? 'dataset' : `${report.datasets.length} datasets:`} ${report.datasets.map((d) => d.dataset).join(', ')}\n`;
  const skipped = report.skipped.length > 0 ? `\nskipped: ${report.skipped.join('; ')}\n` : '';
  return `${header}\n${report.datasets.map(datasetText).join('\n')}${skipped}`;
}
