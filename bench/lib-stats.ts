/** Medians, target checks and the plain-text tables of the report. */

export interface Stats {
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function stats(values: readonly number[]): Stats | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { n: s.length, median, min: s[0] as number, max: s[s.length - 1] as number };
}

export interface Target {
  readonly name: string;
  /** Measured value (ratio, MB, …); undefined when not measured. */
  readonly value: number | undefined;
  readonly limit: number;
  readonly comparison: '<=' | '<';
  readonly format: (v: number) => string;
  readonly note?: string;
}

export type Verdict = 'PASS' | 'MISS' | 'n/a';

export function verdict(t: Target): Verdict {
  if (t.value === undefined || Number.isNaN(t.value)) return 'n/a';
  return (t.comparison === '<=' ? t.value <= t.limit : t.value < t.limit) ? 'PASS' : 'MISS';
}

export const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
export const mb = (kb: number): string => `${((kb * 1024) / 1e6).toFixed(0)} MB`;
export const ratio = (v: number): string => `${v.toFixed(2)} ×`;
export const pct = (v: number): string => `${(v * 100).toFixed(1)} %`;
export const int = (v: number): string => Math.round(v).toLocaleString('en-US');

/** A left-aligned text table; columns listed in `right` are right-aligned. */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[], right: ReadonlySet<number> = new Set()): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (right.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export interface Measure {
  /** Key in the JSON summary. */
  readonly key: string;
  readonly name: string;
  readonly values: readonly number[];
  readonly format: (v: number) => string;
}

export function measureTable(measures: readonly Measure[]): string {
  const rows = measures.flatMap((m) => {
    const s = stats(m.values);
    return s ? [[m.name, m.format(s.median), m.format(s.min), m.format(s.max), String(s.n)]] : [];
  });
  return textTable(['measure', 'median', 'min', 'max', 'n'], rows, new Set([1, 2, 3, 4]));
}

export function targetTable(targets: readonly Target[]): string {
  const rows = targets.map((t) => [
    t.name,
    t.value === undefined ? '—' : t.format(t.value),
    `${t.comparison} ${t.format(t.limit)}`,
    verdict(t),
    t.note ?? '',
  ]);
  return textTable(['target', 'measured', 'limit', 'verdict', 'how'], rows, new Set([1]));
}
