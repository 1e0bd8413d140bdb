import { quoteIdent } from '../sql/quote.js';

/**
 * An exact, fast cast of PostgreSQL's text of a numeric into DECIMAL(38, scale), for values wider than 18 digits.
 *
 * DuckDB 1.5's own VARCHAR → DECIMAL(w > 18) conversion (a CAST, or read_csv with that column type) costs about
 * 100–250 µs per value on this machine — 2–5 CPU-s per 20,000 values, 1,000 × its 64-bit DECIMAL(18) parser — while
 * VARCHAR → HUGEINT costs about 1 µs. So the digits are read as one 128-bit integer (the integer part followed by
 * exactly `scale` fraction digits) and that integer becomes the decimal's unscaled value: × 10^-scale as
 * DECIMAL(38, scale) multiplies the unscaled values by 1, so nothing is rounded.
 *
 * Only for text that matches `-?[0-9]+(\.[0-9]+)?` whose fraction digits past `scale` are all zeros and whose
 * integer digits fit 38 − scale: what measureNumerics has established before choosing DECIMAL(38, scale).
 */
export function wideDecimalCast(column: string, scale: number): string {
  const v = quoteIdent(column);
  const type = `DECIMAL(38,${scale})`;
  const intPart = `split_part(${v}, '.', 1)`;
  if (scale === 0) return `CAST(CAST(${intPart} AS HUGEINT) AS ${type})`;
  const fraction = `rpad(left(split_part(${v}, '.', 2), ${scale}), ${scale}, '0')`;
  const unit = `CAST('0.${'0'.repeat(scale - 1)}1' AS ${type})`;
  return `CAST(CAST(CAST(${intPart} || ${fraction} AS HUGEINT) AS DECIMAL(38,0)) * ${unit} AS ${type})`;
}

/** What a checked cast (checkedWideDecimalCast) fails with when a value does not fit its scale: no value is quoted. */
export const UNFIT_NUMERIC_MARKER = 'ingesta: an unconstrained numeric does not fit the scale assumed for it';

/**
 * wideDecimalCast for text not measured beforehand: each value is first checked to be PostgreSQL's text of a decimal
 * (`-?digits(.digits)?`, so NaN and ±Infinity fail) with at most 38 − scale integer digits (leading zeros aside) and
 * at most `scale` fraction digits (trailing zeros aside); any other value fails the read with UNFIT_NUMERIC_MARKER,
 * before a row is stored. Reading once with this costs ≈ 0.55 µs per value, against ≈ 0.8 µs to measure the column
 * in a pass of its own plus a second parse of the whole CSV file (DuckDB 1.5.6, one thread).
 */
export function checkedWideDecimalCast(column: string, scale: number): string {
  const v = quoteIdent(column);
  return `CASE WHEN ${v} IS NULL OR ${fitsSql(v, 38 - scale, scale)} THEN ${wideDecimalCast(column, scale)} ELSE error('${UNFIT_NUMERIC_MARKER}') END`;
}

/**
 * The cast of a declared numeric(p, s) with 18 < p ≤ 38 (which PostgreSQL sends with at most p − s integer and
 * exactly s fraction digits): through the 128-bit integer where the text fits, ≈ 100 × faster than DuckDB's own
 * text → DECIMAL(p > 18) parser; anything else (NaN) goes to DuckDB's own cast, whose error names the column and the
 * value's kind, so the text fallback (text-fallback.ts) still turns such a column into exact text.
 */
export function declaredWideDecimalCast(column: string, precision: number, scale: number): string {
  const v = quoteIdent(column);
  const type = `DECIMAL(${precision},${scale})`;
  return `CASE WHEN ${v} IS NULL OR ${fitsSql(v, precision - scale, scale)} THEN CAST(${wideDecimalCast(column, scale)} AS ${type}) ELSE CAST(${v} AS ${type}) END`;
}

/** SQL true when the text `v` is a decimal with at most `intDigits` integer digits and `scale` fraction digits (zeros aside). */
function fitsSql(v: string, intDigits: number, scale: number): string {
  const fraction = scale === 0 ? '(\\.0+)?' : `(\\.[0-9]{1,${scale}}0*)?`;
  const integer = intDigits > 0 ? `0*[0-9]{1,${intDigits}}` : '0+';
  return `regexp_full_match(${v}, '-?${integer}${fraction}')`;
}
