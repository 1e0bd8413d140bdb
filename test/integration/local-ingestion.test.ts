import { describe, expect, it } from 'vitest';
import { DATAVISION_TABLES } from '../../src/demo/datavision-generator.js';
import { runCli } from '../helpers/cli.js';
import { duckColumnTypes, duckQuery, expectTableEqualsSource, expectTablesEqualSource } from '../helpers/duckdb.js';
import { KEYS, RELATIONSHIPS } from '../helpers/datavision.js';
import { useDataVisionFixture } from '../helpers/fixture.js';

const DATASET = 'raw_datavision_local';

const fx = useDataVisionFixture(300, 'local', 'datavision.duckdb');

const ingest = (...args: string[]) => runCli(['--env', 'local', '--duckdb-path', fx.duckdbPath, ...args], { DATABASE_URL: fx.db.url });

async function expectAllTablesEqualSource(): Promise<void> {
  await expectTablesEqualSource(fx.db, fx.duckdbPath, DATASET, DATAVISION_TABLES.map((t) => [t, [KEYS[t]!]]));
}

async function lastLoads(): Promise<Record<string, { mode: string; rows: number }>> {
  const rows = await duckQuery(
    fx.duckdbPath,
    `SELECT table_name, mode, rows_loaded FROM ${DATASET}._ingesta_loads
     WHERE run_id = (SELECT max(run_id) FROM ${DATASET}._ingesta_runs WHERE status = 'loaded')`,
  );
  return Object.fromEntries(rows.map((r) => [String(r.table_name), { mode: String(r.mode), rows: Number(r.rows_loaded) }]));
}

describe('ingesta --env local on the DataVision tables', () => {
  it('first run loads all 8 tables value for value, with faithful types', async () => {
    const result = await ingest();
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    await expectAllTablesEqualSource();

    const accounts = await duckColumnTypes(fx.duckdbPath, DATASET, 'accounts');
    expect(accounts).toEqual({
      account_id: 'INTEGER',
      account_name: 'VARCHAR',
      email: 'VARCHAR',
      created_at: 'TIMESTAMP WITH TIME ZONE',
      updated_at: 'TIMESTAMP',
    });
    expect((await duckColumnTypes(fx.duckdbPath, DATASET, 'premium_features')).base_price).toBe('DECIMAL(10,2)');
    expect((await duckColumnTypes(fx.duckdbPath, DATASET, 'accounts_subscription')).start_date).toBe('DATE');
    // numeric without precision stays a number: max() must not compare strings ('9.5' > '10.25')
    expect((await duckColumnTypes(fx.duckdbPath, DATASET, 'content_attributes')).decimal_value).toBe('DECIMAL(38,9)');
    const loads = await lastLoads();
    expect(loads.contents!.mode).toBe('full');
    expect(Object.keys(loads).sort()).toEqual([...DATAVISION_TABLES].sort());
  });

  it('keeps NULL apart from empty strings, and quotes, commas, newlines, tabs, backslashes and emoji exact', async () => {
    const rows = await duckQuery(
      fx.duckdbPath,
      `SELECT count(*) FILTER (WHERE email IS NULL) AS nulls, count(*) FILTER (WHERE email = '') AS empties,
              count(*) FILTER (WHERE account_name = 'O''Brien, "Quoted" & Co.') AS quoted,
              count(*) FILTER (WHERE account_name = E'Multi\\nline\\tname \\\\ backslash') AS control,
              count(*) FILTER (WHERE account_name LIKE 'Café Ñandú 🎬 %') AS emoji
       FROM ${DATASET}.accounts`,
    );
    const src = await fx.db.query(
      `SELECT count(*) FILTER (WHERE email IS NULL)::int AS nulls, count(*) FILTER (WHERE email = '')::int AS empties FROM accounts`,
    );
    expect(Number(rows[0]!.nulls)).toBe(Number(src[0]!.nulls));
    expect(Number(rows[0]!.empties)).toBe(Number(src[0]!.empties));
    expect(Number(rows[0]!.nulls)).toBeGreaterThan(0);
    expect(Number(rows[0]!.empties)).toBeGreaterThan(0);
    expect(Number(rows[0]!.quoted)).toBeGreaterThan(0);
    expect(Number(rows[0]!.control)).toBeGreaterThan(0);
    expect(Number(rows[0]!.emoji)).toBeGreaterThan(0);
  });

  it('incremental run merges updates and inserts; full tables follow updates, inserts and deletes', async () => {
    await fx.db.query(`UPDATE contents SET title = 'updated ' || content_id, updated_at = now() WHERE content_id % 50 = 0`);
    await fx.db.query(`INSERT INTO contents SELECT 100000 + i, 1, 'new ' || i, NULL, 'video', now(), now() FROM generate_series(1, 20) i`);
    await fx.db.query(`UPDATE content_attributes SET decimal_value = 42.125, updated_at = now() WHERE attribute_id % 40 = 0 AND attribute_name = 'Duración'`);
    await fx.db.query(`INSERT INTO content_attributes SELECT 100000 + i, 100000 + i, 'Duración', NULL, 7.25, current_date, now(), now() FROM generate_series(1, 20) i`);
    await fx.db.query(`UPDATE accounts SET account_name = 'renamed ' || account_id, updated_at = now() WHERE account_id % 7 = 0`);
    await fx.db.query(`INSERT INTO accounts VALUES (9001, 'brand new', 'new@example.com', now(), now())`);
    await fx.db.query(`DELETE FROM subscription_payments WHERE payment_id % 9 = 0`);
    await fx.db.query(`UPDATE premium_features SET base_price = base_price + 0.01, updated_at = now() WHERE feature_id = 2`);

    const result = await ingest();
    expect(result.code, result.stderr).toBe(0);
    await expectAllTablesEqualSource();
    const loads = await lastLoads();
    expect(loads.contents!.mode).toBe('incremental');
    expect(loads.content_attributes!.mode).toBe('incremental');
    expect(loads.accounts!.mode).toBe('full');
    // only the lag window and the changed rows are re-read, not the whole table
    const total = Number((await fx.db.query(`SELECT count(*) AS n FROM contents`))[0]!.n);
    expect(loads.contents!.rows).toBeLessThan(total / 2);
    expect(loads.contents!.rows).toBeGreaterThanOrEqual(26);
  });

  it('a run with no source change leaves every table equal and the cursor where it was', async () => {
    const before = await duckQuery(fx.duckdbPath, `SELECT table_name, cursor_value FROM ${DATASET}._ingesta_state ORDER BY 1`);
    const result = await ingest();
    expect(result.code, result.stderr).toBe(0);
    await expectAllTablesEqualSource();
    const after = await duckQuery(fx.duckdbPath, `SELECT table_name, cursor_value FROM ${DATASET}._ingesta_state ORDER BY 1`);
    expect(after).toEqual(before);
    expect((await lastLoads()).contents!.mode).toBe('incremental');
  });

  it('--tables contents content_attributes --full-refresh reloads them from scratch; the next plain run is incremental', async () => {
    await fx.db.query(`UPDATE contents SET description = 'refreshed', updated_at = now() WHERE content_id = 3`);
    const result = await ingest('--tables', 'contents', 'content_attributes', '--full-refresh');
    expect(result.code, result.stderr).toBe(0);
    const loads = await lastLoads();
    expect(Object.keys(loads).sort()).toEqual(['content_attributes', 'contents']);
    expect(loads.contents!.mode).toBe('full');
    expect(loads.content_attributes!.mode).toBe('full');
    await expectAllTablesEqualSource();

    const next = await ingest();
    expect(next.code, next.stderr).toBe(0);
    expect((await lastLoads()).contents!.mode).toBe('incremental');
    await expectAllTablesEqualSource();
  });

  it('rows sharing the last cursor value are neither lost nor duplicated', async () => {
    // a past instant later than every other row, so it becomes the stored cursor
    const tie = `'${(await fx.db.query(`SELECT (now() - interval '2 seconds')::timestamp::text AS t`))[0]!.t}'`;
    await fx.db.query(`UPDATE contents SET updated_at = ${tie}, title = 'tie A ' || content_id WHERE content_id BETWEEN 10 AND 60`);
    expect((await ingest('--tables', 'contents')).code).toBe(0);
    // more rows arrive with exactly the cursor value the previous run stored
    await fx.db.query(`UPDATE contents SET updated_at = ${tie}, title = 'tie B ' || content_id WHERE content_id BETWEEN 61 AND 90`);
    await fx.db.query(`INSERT INTO contents SELECT 200000 + i, 2, 'tie insert ' || i, '', 'video', now(), ${tie} FROM generate_series(1, 15) i`);
    expect((await ingest('--tables', 'contents', '--lag', '0')).code).toBe(0);
    await expectTableEqualsSource(fx.db, fx.duckdbPath, DATASET, 'contents', ['content_id']);
    const dupes = await duckQuery(fx.duckdbPath, `SELECT count(*) - count(DISTINCT content_id) AS d FROM ${DATASET}.contents`);
    expect(Number(dupes[0]!.d)).toBe(0);
  });

  it('rows stamped in the future do not push the cursor past later real changes', async () => {
    await fx.db.query(`UPDATE contents SET updated_at = '2099-01-01 00:00:00', title = 'future' WHERE content_id = 20`);
    const first = await ingest('--tables', 'contents');
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('later than the source');
    const state = await duckQuery(fx.duckdbPath, `SELECT cursor_value FROM ${DATASET}._ingesta_state WHERE table_name = 'contents'`);
    expect(String(state[0]!.cursor_value) < '2099').toBe(true);
    await fx.db.query(`UPDATE contents SET title = 'after the future row', updated_at = now() WHERE content_id = 21`);
    expect((await ingest('--tables', 'contents')).code).toBe(0);
    await expectTableEqualsSource(fx.db, fx.duckdbPath, DATASET, 'contents', ['content_id']);
    await fx.db.query(`UPDATE contents SET updated_at = now() WHERE content_id = 20`);
  });

  it('the raw layer satisfies the downstream tests and a staging-shaped query runs', async () => {
    for (const [table, key] of Object.entries(KEYS)) {
      const r = await duckQuery(fx.duckdbPath, `SELECT count(*) - count(DISTINCT ${key}) AS d, count(*) FILTER (WHERE ${key} IS NULL) AS n FROM ${DATASET}.${table}`);
      expect(Number(r[0]!.d), `${table} unique`).toBe(0);
      expect(Number(r[0]!.n), `${table} not null`).toBe(0);
    }
    const relationships = RELATIONSHIPS;
    for (const [child, fk, parent, pk] of relationships) {
      const r = await duckQuery(
        fx.duckdbPath,
        `SELECT count(*) AS orphans FROM ${DATASET}.${child} c WHERE c.${fk} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ${DATASET}.${parent} p WHERE p.${pk} = c.${fk})`,
      );
      expect(Number(r[0]!.orphans), `${child}.${fk} → ${parent}`).toBe(0);
    }
    const staging = await duckQuery(
      fx.duckdbPath,
      `WITH stg_contents AS (
         SELECT content_id, account_id, title, cast(created_at AS timestamp) AS created_at, cast(updated_at AS timestamp) AS updated_at
         FROM ${DATASET}.contents),
       attrs AS (
         SELECT content_id,
                max(CASE WHEN attribute_name = 'Categoría' THEN string_value END) AS categoria,
                max(CASE WHEN attribute_name = 'Duración' THEN decimal_value END) AS duracion
         FROM ${DATASET}.content_attributes GROUP BY content_id)
       SELECT count(*) AS n, max(a.duracion) AS max_duracion
       FROM stg_contents c FULL OUTER JOIN attrs a ON a.content_id = c.content_id
       WHERE c.updated_at > (SELECT min(cast(updated_at AS timestamp)) FROM ${DATASET}.contents)`,
    );
    const srcMax = await fx.db.query(`SELECT max(decimal_value)::text AS m FROM content_attributes WHERE attribute_name = 'Duración'`);
    expect(Number(staging[0]!.n)).toBeGreaterThan(0);
    expect(Number(staging[0]!.max_duracion)).toBe(Number(srcMax[0]!.m));
  });
});
