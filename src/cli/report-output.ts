import { messageOf } from '../errors.js';
import type { EventListener, QualityReport } from '../pipeline/events.js';
import { readQualityHistory } from '../pipeline/quality-history.js';
import type { RunPlan } from '../pipeline/run-plan.js';
import { writeHtmlReport, writeJsonReport } from '../quality/report-files.js';

/**
 * --report-json and --report-html after the gate. The HTML report's history is read after the run (read-only, the
 * run's lock released); when it cannot be read the report is written without it and a warning says why.
 */
export async function writeReportFiles(files: { readonly json?: string; readonly html?: string }, report: QualityReport, plan: RunPlan, emit: EventListener): Promise<void> {
  if (files.json) writeJsonReport(files.json, report);
  if (!files.html) return;
  const history = await readQualityHistory(plan.config, { dataset: plan.dataset }).catch((error: unknown) => {
    emit({ type: 'warning', message: `The quality report has no history: reading it failed: ${messageOf(error).split('\n')[0]}` });
    return undefined;
  });
  writeHtmlReport(files.html, report, history);
}
