/**
 * The bench's "hard" data profile: the DataVision generator's 8 tables (same keys, cursors and relationships, so the
 * catalog, the 1 % change rounds and the gate work unchanged) widened with values real sources have and the
 * generator's own columns lack: unconstrained numerics of 20–30 digits (some negative, some with 9 fraction digits),
 * jsonb documents with nested arrays and escaped quotes, text[] with commas, quotes and NULL elements, timestamptz with
 * microseconds, bytea, and long text (≈ 60–360 characters) with quotes, commas, tabs and newlines. Eight extra
 * columns on every large table (15 columns on contents, 16 on content_attributes).
 *
 * The columns are added to the empty tables with volatile DEFAULTs, so the generator's own INSERTs fill them; the
 * session's random() is seeded first, so the same size gives the same rows.
 */
import { datavisionSql } from '../src/demo/datavision-generator.js';

export type Profile = 'generator' | 'hard';
export const PROFILES: readonly Profile[] = ['generator', 'hard'];

/** Tables that get the hard columns (the four small ones keep the generator's shape). */
const WIDENED = ['accounts', 'accounts_subscription', 'contents', 'content_attributes', 'account_premium_features', 'subscription_payments'];

const LONG_TEXT = `(CASE WHEN random() < 0.1 THEN NULL WHEN random() < 0.05 THEN '' ELSE
  repeat(E'She said "hello", then \\'bye\\'; a,b,c\\tTAB\\nnew line ' || floor(random() * 1e9)::text || ' ', 1 + floor(random() * 6)::int) END)`;

const HARD_COLUMNS: readonly [string, string][] = [
  // 20–30 significant digits, 0–9 fraction digits: beyond BIGINT and DOUBLE, inside DECIMAL(38,9)
  ['amount_exact', `numeric DEFAULT (CASE WHEN random() < 0.05 THEN NULL ELSE (
     (CASE WHEN random() < 0.3 THEN '-' ELSE '' END) ||
     left(floor(random() * 9e8 + 1e8)::bigint::text || lpad(floor(random() * 1e9)::bigint::text, 9, '0') || lpad(floor(random() * 1e9)::bigint::text, 9, '0'), 11 + floor(random() * 17)::int) ||
     '.' || left(lpad(floor(random() * 1e9)::bigint::text, 9, '0'), floor(random() * 10)::int))::numeric END)`],
  ['ratio_exact', `numeric DEFAULT (round((random() * 1e12)::numeric, 9) * 1000000007 + floor(random() * 1e9)::numeric / 1e9)`],
  ['doc', `jsonb DEFAULT (jsonb_build_object(
     'id', floor(random() * 1e15)::bigint, 'score', random(), 'tags', jsonb_build_array('a,b', E'q"uote', NULL, floor(random() * 100)::int),
     'note', E'line1\\nline2 "quoted" \\\\ back', 'nested', jsonb_build_object('ok', random() < 0.5, 'v', repeat('x', floor(random() * 40)::int))))`],
  ['labels', `text[] DEFAULT (ARRAY['plain', E'with,comma', E'with "quote"', NULL, 'ñandú 🎬', repeat('z', floor(random() * 20)::int)])`],
  ['seen_at', `timestamptz DEFAULT (timestamptz '2026-01-01 00:00:00+00' - random() * interval '2000 days')`],
  ['payload', `bytea DEFAULT (CASE WHEN random() < 0.1 THEN NULL ELSE decode(md5(random()::text) || md5(random()::text), 'hex') END)`],
  ['body', `text DEFAULT ${LONG_TEXT}`],
  ['summary', `varchar(400) DEFAULT (left(E'Summary, "quoted"\\n' || md5(random()::text) || repeat(' more', floor(random() * 30)::int), 400))`],
];

/** The generator's statements with the hard columns added to the empty tables before they are filled. */
export function hardSql(accounts: number): string[] {
  const all = datavisionSql({ accounts });
  const ddl = all.filter((s) => /^\s*CREATE /.test(s));
  const fill = all.filter((s) => !/^\s*CREATE /.test(s));
  const widen = WIDENED.map((t) => `ALTER TABLE public.${t} ${HARD_COLUMNS.map(([c, def]) => `ADD COLUMN ${c} ${def}`).join(', ')}`);
  return [...ddl, ...widen, 'SELECT setseed(0.4242)', ...fill];
}

export function profileSql(profile: Profile, accounts: number): string[] {
  return profile === 'hard' ? hardSql(accounts) : datavisionSql({ accounts });
}
