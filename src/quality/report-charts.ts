import type { CheckStatus } from './check-types.js';

/**
 * Small inline SVG charts for the HTML report: no script, no font, no network; each point carries a <title> (the
 * run and the value) that a browser shows on hover. Values are drawn oldest run first, left to right.
 */

export const STATUS_COLORS: Readonly<Record<CheckStatus, string>> = { pass: '#1a7f37', warn: '#bf8700', fail: '#cf222e', skip: '#8c959f' };

export const escapeHtml = (value: unknown): string =>
  String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export interface ChartPoint {
  readonly value: number | null;
  /** Hover text: the run, the value. */
  readonly label: string;
  readonly status?: CheckStatus | null;
}

interface Size {
  readonly width: number;
  readonly height: number;
}

const PAD = 4;
const round = (n: number) => Math.round(n * 10) / 10;

function svg(size: Size, label: string, body: string): string {
  return (
    `<svg class="chart" width="${size.width}" height="${size.height}" viewBox="0 0 ${size.width} ${size.height}" ` +
    `role="img" aria-label="${escapeHtml(label)}" xmlns="http://www.w3.org/2000/svg">${body}</svg>`
  );
}

/** x of point i of n, spread over the width (a single point in the middle). */
const xOf = (i: number, n: number, size: Size) => (n <= 1 ? size.width / 2 : PAD + (i * (size.width - 2 * PAD)) / (n - 1));

/** A line over the runs (gaps where a run has no value), each point a dot coloured by its status; an optional dashed limit. */
export function sparkline(points: readonly ChartPoint[], label: string, options: { size?: Size; color?: string; limit?: number; fromZero?: boolean } = {}): string {
  const size = options.size ?? { width: 150, height: 34 };
  const values = points.map((p) => p.value).filter((v): v is number => v !== null);
  if (values.length === 0) return svg(size, `${label}: no data`, `<text x="${size.width / 2}" y="${size.height / 2 + 4}" text-anchor="middle" class="nodata">no data</text>`);
  // from zero (ages against their limit), or from the smallest value, so that a change of a few rows shows
  const top = Math.max(...values, options.limit ?? -Infinity);
  const bottom = options.fromZero === false ? Math.min(...values) : Math.min(...values, 0);
  const span = top - bottom;
  const yOf = (v: number) => round(span === 0 ? size.height / 2 : size.height - PAD - ((v - bottom) / span) * (size.height - 2 * PAD));
  const segments: string[][] = [[]];
  points.forEach((p, i) => {
    if (p.value === null) segments.push([]);
    else segments.at(-1)!.push(`${round(xOf(i, points.length, size))},${yOf(p.value)}`);
  });
  const color = options.color ?? '#0969da';
  const lines = segments
    .filter((s) => s.length > 1)
    .map((s) => `<polyline points="${s.join(' ')}" fill="none" stroke="${color}" stroke-width="1.5" stroke-linejoin="round"/>`)
    .join('');
  const limit =
    options.limit === undefined ? '' : `<line x1="0" x2="${size.width}" y1="${yOf(options.limit)}" y2="${yOf(options.limit)}" stroke="#cf222e" stroke-dasharray="3 3" stroke-width="1"><title>limit ${options.limit}</title></line>`;
  const dots = points
    .map((p, i) =>
      p.value === null
        ? ''
        : `<circle cx="${round(xOf(i, points.length, size))}" cy="${yOf(p.value)}" r="${i === points.length - 1 ? 3 : 2}" fill="${p.status ? STATUS_COLORS[p.status] : color}"><title>${escapeHtml(p.label)}</title></circle>`,
    )
    .join('');
  return svg(size, label, limit + lines + dots);
}

/** Stacked bars, one per run: each bar's parts bottom up, in the given colours. */
export function bars(runs: readonly { readonly parts: readonly number[]; readonly label: string }[], colors: readonly string[], label: string, size: Size = { width: 130, height: 34 }, counts = false): string {
  const top = Math.max(1, ...runs.map((r) => r.parts.reduce((a, b) => a + b, 0)));
  const head = counts ? 12 : 0;
  const slot = (size.width - 2 * PAD) / Math.max(runs.length, 1);
  const width = Math.max(1, Math.min(14, slot - 2));
  const body = runs
    .map((run, i) => {
      let y = size.height - PAD;
      const x = round(PAD + i * slot + (slot - width) / 2);
      const rects = run.parts
        .map((v, k) => {
          if (v <= 0) return '';
          const h = Math.max(1.5, ((size.height - 2 * PAD - head) * v) / top);
          y -= h;
          return `<rect x="${x}" y="${round(y)}" width="${round(width)}" height="${round(h)}" fill="${colors[k % colors.length]}"/>`;
        })
        .join('');
      const empty = run.parts.every((v) => v <= 0) ? `<rect x="${x}" y="${size.height - PAD - 1}" width="${round(width)}" height="1" fill="#d0d7de"/>` : '';
      const total = run.parts.reduce((a, b) => a + b, 0);
      const count = counts && total > 0 && slot >= 12 ? `<text x="${round(x + width / 2)}" y="${round(y - 2)}" text-anchor="middle" class="count">${total}</text>` : '';
      return `<g><title>${escapeHtml(run.label)}</title>${rects}${empty}${count}</g>`;
    })
    .join('');
  return svg(size, label, `<line x1="0" x2="${size.width}" y1="${size.height - PAD + 0.5}" y2="${size.height - PAD + 0.5}" stroke="#d0d7de"/>${body}`);
}

/** One square per run, coloured by the worst status of that run (grey: not checked). */
export function statusStrip(points: readonly ChartPoint[], label: string, size: Size = { width: 120, height: 14 }): string {
  const slot = (size.width - 2 * PAD) / Math.max(points.length, 1);
  const side = Math.max(2, Math.min(10, slot - 2));
  const body = points
    .map((p, i) => {
      const fill = p.status ? STATUS_COLORS[p.status] : '#eaeef2';
      return `<rect x="${round(PAD + i * slot + (slot - side) / 2)}" y="${round((size.height - side) / 2)}" width="${round(side)}" height="${round(side)}" rx="2" fill="${fill}"><title>${escapeHtml(p.label)}</title></rect>`;
    })
    .join('');
  return svg(size, label, body);
}
