import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DestinationError, messageOf } from '../errors.js';
import type { QualityReport } from './check-types.js';
import { countByStatus, renderHtmlReport } from './report-html.js';
import type { QualityHistory } from './report-history.js';

export { countByStatus, renderHtmlReport } from './report-html.js';

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

/**
 * --report-json: { runId, env, dataset, mode, startedAt, finishedAt, checks: [...], summary } — the QualityReport
 * the library returns, in the library's camelCase, plus a count per status.
 */
export function writeJsonReport(file: string, report: QualityReport): void {
  writeAtomically(file, `${JSON.stringify({ ...report, summary: countByStatus(report) }, null, 2)}\n`);
}

/** --report-html: see report-html.ts; `history` (readQualityHistory) adds the trends over the last runs. */
export function writeHtmlReport(file: string, report: QualityReport, history?: QualityHistory): void {
  writeAtomically(file, renderHtmlReport(report, history));
}
