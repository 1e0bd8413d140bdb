/**
 * A deterministic DataVision dataset, generated inside PostgreSQL (generate_series + integer hashing), so the same
 * SQL seeds the demo (PGlite), the tests and the benchmark (real PostgreSQL) at any size, millions of rows included.
 * Same size and anchor → same rows. Awkward values are included on purpose: quotes, commas, newlines, tabs,
 * backslashes, emoji, '' next to NULL, microsecond timestamps, unconstrained numerics.
 */

export interface GeneratorOptions {
  /** Number of accounts; other tables scale with it (≈ 17.5 rows per account in all). */
  readonly accounts: number;
  /** "Now" of the generated data, as a PostgreSQL timestamp literal (UTC). Timestamps lie before it. */
  readonly anchor?: string;
  /** Schema to create the tables in. */
  readonly schema?: string;
}

export const DATAVISION_TABLES = [
  'accounts',
  'subscriptions',
  'accounts_subscription',
  'contents',
  'content_attributes',
  'premium_features',
  'account_premium_features',
  'subscription_payments',
] as const;

/** Rows per table for a given number of accounts. */
export function expectedRowCounts(accounts: number): Record<(typeof DATAVISION_TABLES)[number], number> {
  return {
    accounts,
    subscriptions: 6,
    accounts_subscription: accounts,
    contents: accounts * 3,
    content_attributes: accounts * 6,
    premium_features: 12,
    account_premium_features: Math.floor(accounts / 2),
    subscription_payments: accounts * 6,
  };
}

function ddl(s: string): string[] {
  return [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    `CREATE TABLE ${s}.accounts (
       account_id integer PRIMARY KEY, account_name varchar(200) NOT NULL, email varchar(200),
       created_at timestamptz NOT NULL, updated_at timestamp NOT NULL)`,
    `CREATE TABLE ${s}.subscriptions (
       subscription_id integer PRIMARY KEY, subscription_name varchar(100) NOT NULL, max_contents_per_month integer,
       created_at timestamp NOT NULL, updated_at timestamp NOT NULL)`,
    `CREATE TABLE ${s}.accounts_subscription (
       account_subscription_id integer PRIMARY KEY,
       account_id integer NOT NULL REFERENCES ${s}.accounts (account_id),
       subscription_id integer NOT NULL REFERENCES ${s}.subscriptions (subscription_id),
       start_date date NOT NULL, end_date date, created_at timestamp NOT NULL, updated_at timestamp NOT NULL)`,
    `CREATE TABLE ${s}.contents (
       content_id integer PRIMARY KEY, account_id integer NOT NULL REFERENCES ${s}.accounts (account_id),
       title varchar(300) NOT NULL, description text, content_type varchar(50),
       created_at timestamp NOT NULL, updated_at timestamp NOT NULL)`,
    `CREATE INDEX contents_updated_at_idx ON ${s}.contents (updated_at)`,
    `CREATE TABLE ${s}.content_attributes (
       attribute_id integer PRIMARY KEY, content_id integer NOT NULL REFERENCES ${s}.contents (content_id),
       attribute_name varchar(100) NOT NULL, string_value varchar(500), decimal_value numeric, date_value date,
       created_at timestamp NOT NULL, updated_at timestamp NOT NULL)`,
    `CREATE INDEX content_attributes_updated_at_idx ON ${s}.content_attributes (updated_at)`,
    `CREATE TABLE ${s}.premium_features (
       feature_id integer PRIMARY KEY, feature_name varchar(100) NOT NULL, description text, base_price numeric(10,2) NOT NULL,
       created_at timestamp NOT NULL, updated_at timestamp NOT NULL)`,
    `CREATE TABLE ${s}.account_premium_features (
       account_feature_id integer PRIMARY KEY,
       account_id integer NOT NULL REFERENCES ${s}.accounts (account_id),
       feature_id integer NOT NULL REFERENCES ${s}.premium_features (feature_id),
       purchase_date timestamp NOT NULL, amount_paid numeric(10,2) NOT NULL)`,
    `CREATE TABLE ${s}.subscription_payments (
       payment_id integer PRIMARY KEY,
       account_subscription_id integer NOT NULL REFERENCES ${s}.accounts_subscription (account_subscription_id),
       payment_date timestamptz NOT NULL, amount numeric(10,2) NOT NULL, payment_method varchar(50), billing_cycle varchar(20))`,
  ];
}

/** h(i, salt) in [0, m): a cheap deterministic hash of an integer. */
const h = (i: string, salt: number, m: number) => `(((((${i})::bigint * 2654435761 + ${salt * 40503}) % 4294967296) % ${m})::int)`;
/** A timestamp up to `days` days before the anchor, with microseconds. */
const ago = (anchor: string, i: string, salt: number, days: number) =>
  `(${anchor} - make_interval(secs => ${h(i, salt, days * 86400)}) - make_interval(secs => ${h(i, salt + 1, 1000000)} / 1000000.0))`;

/** Statements that create the 8 tables and fill them. Run them in order on an empty schema. */
export function datavisionSql(options: GeneratorOptions): string[] {
  const n = Math.floor(options.accounts);
  const s = options.schema ?? 'public';
  const anchor = `'${(options.anchor ?? new Date().toISOString().slice(0, 19).replace('T', ' ')).replace(/'/g, "''")}'::timestamp`;
  return [
    ...ddl(s),
    `INSERT INTO ${s}.accounts
     SELECT i,
       CASE ${h('i', 1, 10)}
         WHEN 0 THEN 'O''Brien, "Quoted" & Co.'
         WHEN 1 THEN E'Multi\\nline\\tname \\\\ backslash'
         WHEN 2 THEN 'Café Ñandú 🎬 ' || i
         ELSE 'Account ' || i END,
       CASE ${h('i', 2, 20)} WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'user' || i || '@example.com' END,
       ${ago(anchor, 'i', 3, 900)}::timestamptz,
       ${ago(anchor, 'i', 5, 30)}
     FROM generate_series(1, ${n}) AS i`,
    `INSERT INTO ${s}.subscriptions VALUES
       (1, 'Básico', 10, ${anchor} - interval '800 days', ${anchor} - interval '20 days'),
       (2, 'Estándar', 50, ${anchor} - interval '800 days', ${anchor} - interval '10 days'),
       (3, 'Premium', NULL, ${anchor} - interval '700 days', ${anchor} - interval '5 hours'),
       (4, 'Familiar, "plus"', 200, ${anchor} - interval '600 days', ${anchor} - interval '3 days'),
       (5, 'Empresas 🚀', 1000, ${anchor} - interval '500 days', ${anchor} - interval '1 hour'),
       (6, '', 0, ${anchor} - interval '400 days', ${anchor} - interval '2 days')`,
    `INSERT INTO ${s}.accounts_subscription
     SELECT i, i, 1 + ${h('i', 7, 6)},
       (${anchor} - make_interval(days => (${h('i', 8, 700)})::int))::date,
       CASE WHEN ${h('i', 9, 3)} = 0 THEN NULL ELSE (${anchor} + make_interval(days => (${h('i', 10, 400)})::int))::date END,
       ${ago(anchor, 'i', 11, 700)}, ${ago(anchor, 'i', 13, 40)}
     FROM generate_series(1, ${n}) AS i`,
    `INSERT INTO ${s}.contents
     SELECT i, 1 + (i - 1) / 3,
       CASE ${h('i', 15, 12)}
         WHEN 0 THEN 'Title with "quotes", commas, and a trailing backslash \\'
         WHEN 1 THEN E'Line one\\nLine two\\r\\nLine three'
         WHEN 2 THEN 'Película 🎥 número ' || i
         ELSE 'Content ' || i END,
       CASE ${h('i', 16, 8)} WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN E'tab\\there, quote '' and "double"' ELSE repeat('desc ' || i || ' ', 1 + ${h('i', 17, 6)}) END,
       (ARRAY['video', 'article', 'podcast', 'course'])[1 + ${h('i', 18, 4)}],
       ${ago(anchor, 'i', 19, 600)}, ${ago(anchor, 'i', 21, 60)}
     FROM generate_series(1, ${n * 3}) AS i`,
    `INSERT INTO ${s}.content_attributes
     SELECT i, 1 + (i - 1) / 2,
       CASE WHEN i % 2 = 1 THEN 'Categoría' ELSE 'Duración' END,
       CASE WHEN i % 2 = 1 THEN (ARRAY['Drama', 'Comedia', 'Documental', 'Ciencia, ficción', ''])[1 + ${h('i', 23, 5)}] END,
       CASE WHEN i % 2 = 0 THEN
         CASE ${h('i', 24, 4)} WHEN 0 THEN 9.5 WHEN 1 THEN 10.25 WHEN 2 THEN round((${h('i', 25, 100000)})::numeric / 1000, 3) ELSE 0.123456789 END
       END,
       CASE WHEN i % 2 = 0 THEN (${anchor} - make_interval(days => (${h('i', 26, 3000)})::int))::date END,
       ${ago(anchor, 'i', 27, 600)}, ${ago(anchor, 'i', 29, 60)}
     FROM generate_series(1, ${n * 6}) AS i`,
    `INSERT INTO ${s}.premium_features
     SELECT i, 'Feature ' || i || CASE WHEN i = 3 THEN ' "HD", 4K' ELSE '' END,
       CASE WHEN i % 4 = 0 THEN NULL ELSE 'Descripción ' || i END,
       (i * 1.99)::numeric(10,2), ${anchor} - make_interval(days => 300 + i), ${anchor} - make_interval(hours => i)
     FROM generate_series(1, 12) AS i`,
    `INSERT INTO ${s}.account_premium_features
     SELECT i, 1 + ((i - 1) * 2) % ${n}, 1 + ${h('i', 31, 12)}, ${ago(anchor, 'i', 32, 365)},
       (${h('i', 34, 100000)} / 100.0)::numeric(10,2)
     FROM generate_series(1, ${Math.floor(n / 2)}) AS i`,
    `INSERT INTO ${s}.subscription_payments
     SELECT i, 1 + (i - 1) / 6, ${ago(anchor, 'i', 35, 365)}::timestamptz,
       CASE ${h('i', 37, 50)} WHEN 0 THEN 0.00 WHEN 1 THEN -15.50 ELSE (${h('i', 38, 20000)} / 100.0)::numeric(10,2) END,
       (ARRAY['Tarjeta de Crédito', 'PayPal', 'Transferencia', NULL])[1 + ${h('i', 39, 4)}],
       (ARRAY['Mensual', 'Anual', 'Trimestral'])[1 + ${h('i', 40, 3)}]
     FROM generate_series(1, ${n * 6}) AS i`,
    `ANALYZE`,
  ];
}
