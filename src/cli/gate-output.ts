import type { QualityReport } from '../pipeline/events.js';
import type { CheckResult, CheckStatus } from '../quality/check-types.js';

type Verbosity = 'quiet' | 'normal' | 'verbose';

const ORDER: Readonly<Record<CheckStatus, number>> = { fail: 0, warn: 1, skip: 2, pass: 3 };

const KINDS = ['row_count', 'duplicates', 'referential_integrity', 'freshness'];

/** "row_count ×8, duplicates ×8": how many checks of each kind, the built-in kinds first. */
function byKind(checks: readonly CheckResult[]): string {
  const counts = new Map<string, number>(KINDS.map((k) => [k, 0]));
  for (const c of checks) counts.set(c.check, (counts.get(c.check) ?? 0) + 1);
  return [...counts].filter(([, n]) => n > 0).map(([kind, n]) => `${kind} ×${n}`).join(', ');
}

/** `check table` of each failed (or warned) check, for the verdict and the error line. */
export function checkNames(checks: readonly CheckResult[], status: CheckStatus): string[] {
  return checks.filter((c) => c.status === status).map((c) => `${c.check} ${c.table}`);
}

/**
 * The gate as a person reads it in five seconds: what failed (and warned) first, one block each with the message and
 * the offending keys; passes collapsed to a count per kind (every check in a table with --verbose); skips with their
 * reason; then the verdict naming the failed checks. -q leaves out everything but problems and the verdict.
 */
export function gateText(report: QualityReport, verbosity: Verbosity = 'normal', table: (checks: readonly CheckResult[]) => string): string {
  const checks = [...report.checks].sort((a, b) => ORDER[a.status] - ORDER[b.status]);
  const count = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  const lines: string[] = [];
  if (verbosity === 'verbose') {
    lines.push(table(checks), '');
  } else {
    for (const c of checks.filter((x) => x.status === 'fail' || x.status === 'warn')) {
      lines.push(`${c.status.toUpperCase()}  ${c.check}  ${c.table}: ${c.message}`);
    }
    if (verbosity === 'normal') {
      const passed = checks.filter((c) => c.status === 'pass');
      if (passed.length > 0) lines.push(`pass  ${passed.length} check${passed.length === 1 ? '' : 's'}: ${byKind(passed)}`);
      for (const c of checks.filter((x) => x.status === 'skip')) lines.push(`skip  ${c.check}  ${c.table}: ${c.message}`);
    }
    if (lines.length > 0) lines.push('');
  }
  const failed = checkNames(checks, 'fail');
  const warned = checkNames(checks, 'warn');
  const totals = `${count('pass')} pass, ${count('warn')} warn, ${failed.length} fail, ${count('skip')} skip`;
  lines.push(
    failed.length > 0
      ? `quality gate FAILED: ${failed.length} of ${checks.length} checks failed (${failed.join('; ')}) — ${totals}`
      : warned.length > 0
        ? `quality gate PASSED with warnings (${warned.join('; ')}) — ${totals}`
        : `quality gate PASSED: ${totals}`,
  );
  return lines.join('\n');
}
