import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckQuery, expectTableEqualsSource } from '../helpers/duckdb.js';
import { useDataVisionFixture } from '../helpers/fixture.js';
import { connect } from '../helpers/postgres.js';
import { localPackageRoot } from '../helpers/packages.js';

const DATASET = 'raw_datavision_local';
const fx = useDataVisionFixture(300, 'late');

const ingest = (env: Record<string, string>, ...args: string[]) =>
  runCli(['--env', 'local', '--duckdb-path', fx.duckdbPath, '--tables', 'contents', 'content_attributes', ...args], { DATABASE_URL: fx.db.url, ...env });

async function titleOf(id: number): Promise<unknown> {
  return (await duckQuery(fx.duckdbPath, `SELECT title FROM ${DATASET}.contents WHERE content_id = ${id}`))[0]?.title;
}

async function expectBothEqualSource(): Promise<void> {
  await expectTableEqualsSource(fx.db, fx.duckdbPath, DATASET, 'contents', ['content_id']);
  await expectTableEqualsSource(fx.db, fx.duckdbPath, DATASET, 'content_attributes', ['attribute_id']);
}

describe('late commits and hard deletes: what an incremental run misses, the automatic reconciliation, and --reconcile', () => {
  it('a late commit outside the lag window is missed by a plain incremental run (the documented limit) and caught by --reconcile', async () => {
    expect((await ingest({})).code).toBe(0);
    const late = await connect(fx.db.url);
    try {
      await late.query('BEGIN');
      // updated_at is stamped now, but the transaction commits only after a run has moved the cursor past it
      await late.query(`UPDATE contents SET title = 'late commit', updated_at = clock_timestamp() WHERE content_id = 11`);
      await new Promise((r) => setTimeout(r, 50));
      await fx.db.query(`UPDATE contents SET title = 'early commit', updated_at = clock_timestamp() WHERE content_id = 12`);
      const first = await ingest({}, '--lag', '0s');
      expect(first.code, first.stderr).toBe(0);
      await late.query('COMMIT');
    } finally {
      await late.end();
    }
    const plain = await ingest({}, '--lag', '0s');
    expect(plain.code, plain.stderr).toBe(0);
    expect(await titleOf(11)).not.toBe('late commit');

    const reconciled = await ingest({}, '--lag', '0s', '--reconcile');
    expect(reconciled.code, reconciled.stderr).toBe(0);
    expect(reconciled.stdout).toMatch(/reconciled contents: 900 source keys compared, 1 rows re-read/);
    expect(await titleOf(11)).toBe('late commit');
    await expectBothEqualSource();
  });

  it('hard deletes and back-dated inserts change the row count: a plain run sees it and reconciles on its own, both tables at once (regression: two tables reconciled at the same time mixed their keys on one DuckDB connection)', async () => {
    await fx.db.query(`DELETE FROM content_attributes WHERE content_id IN (20, 21)`);
    await fx.db.query(`DELETE FROM contents WHERE content_id IN (20, 21)`);
    await fx.db.query(`UPDATE contents SET title = 'back-dated', updated_at = updated_at - interval '400 days' WHERE content_id = 22`);
    await fx.db.query(`UPDATE content_attributes SET string_value = 'back-dated', updated_at = '2001-01-01' WHERE attribute_id = 50`);
    await fx.db.query(
      `INSERT INTO contents (content_id, account_id, title, content_type, created_at, updated_at)
       SELECT 100000, account_id, 'old insert', content_type, created_at, '2001-01-01' FROM contents WHERE content_id = 23`,
    );
    // the limit of a plain incremental read, shown with the automatic reconciliation turned off
    const off = await ingest({ INGESTA_RECONCILE: 'off' });
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout).not.toContain('reconcil');
    expect((await duckQuery(fx.duckdbPath, `SELECT count(*)::INT AS n FROM ${DATASET}.contents WHERE content_id IN (20, 21, 100000)`))[0]!.n).toBe(2);

    // both tables on two source connections (the default), reconciled concurrently
    const r = await ingest({}, '--validar-calidad-datos');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('contents: the source holds 899 rows but the destination would hold 900 after this batch');
    expect(r.stdout).toMatch(/reconciled contents: 899 source keys compared, 2 rows re-read \(committed late or missed\), 2 keys deleted/);
    expect(r.stdout).toMatch(/reconciled content_attributes: 1,796 source keys compared, 1 rows re-read \(committed late or missed\), 4 keys deleted/);
    await expectBothEqualSource();

    // a back-dated update keeps the counts equal: a plain run misses it, only an explicit --reconcile finds it
    await fx.db.query(`UPDATE content_attributes SET string_value = 'back-dated again', updated_at = '2001-01-02' WHERE attribute_id = 51`);
    const plain = await ingest({});
    expect(plain.stdout).not.toContain('reconcil');
    const explicit = await ingest({}, '--reconcile');
    expect(explicit.stdout).toMatch(/reconciled content_attributes: 1,796 source keys compared, 1 rows re-read \(committed late or missed\), 0 keys deleted/);
    await expectBothEqualSource();

    const again = await ingest({});
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).not.toContain('reconcil');
  });

  it('a reconciling run killed after extraction leaves its deletes in the package; the next run completes it', async () => {
    await fx.db.query(`DELETE FROM content_attributes WHERE content_id = 30`);
    await fx.db.query(`DELETE FROM contents WHERE content_id = 30`);
    const killed = await ingest({ INGESTA_CRASH_AT: 'after-extract' }, '--reconcile');
    expect(killed.signal).toBe('SIGKILL');
    expect((await duckQuery(fx.duckdbPath, `SELECT count(*)::INT AS n FROM ${DATASET}.contents WHERE content_id = 30`))[0]!.n).toBe(1);
    const next = await ingest({});
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toContain('completed');
    expect((await duckQuery(fx.duckdbPath, `SELECT count(*)::INT AS n FROM ${DATASET}.contents WHERE content_id = 30`))[0]!.n).toBe(0);
    await expectBothEqualSource();
    const packages = localPackageRoot(fx.duckdbPath, DATASET);
    expect(existsSync(packages) ? readdirSync(packages) : []).toEqual([]);
  });

  it('the catalog can ask for reconciliation on every run, and INGESTA_RECONCILE names tables; a replace table is only warned about', async () => {
    const catalog = path.join(fx.dir, 'reconcile.yaml');
    writeFileSync(
      catalog,
      `version: 1\ndataset_prefix: raw_datavision\ntables:\n  contents:\n    primary_key: [content_id]\n    write_disposition: merge\n    incremental:\n      cursor_column: updated_at\n      reconcile: true\n  accounts:\n    primary_key: [account_id]\n`,
    );
    await fx.db.query(`DELETE FROM content_attributes WHERE content_id = 31`);
    await fx.db.query(`DELETE FROM contents WHERE content_id = 31`);
    const r = await runCli(['--env', 'local', '--duckdb-path', fx.duckdbPath, '--catalog', catalog, '--tables', 'contents'], { DATABASE_URL: fx.db.url });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/reconciled contents: .* 1 keys deleted/);
    await expectTableEqualsSource(fx.db, fx.duckdbPath, DATASET, 'contents', ['content_id']);

    // content 31's two attributes (deleted above, while only contents was reconciled) and attribute 70
    await fx.db.query(`DELETE FROM content_attributes WHERE attribute_id = 70`);
    const env = await ingest({ INGESTA_RECONCILE: 'content_attributes' });
    expect(env.code, env.stderr).toBe(0);
    expect(env.stdout).toMatch(/reconciled content_attributes: .* 3 keys deleted/);
    expect(env.stdout).not.toMatch(/reconciled contents/);

    const replace = await runCli(['--env', 'local', '--duckdb-path', fx.duckdbPath, '--reconcile', 'accounts'], { DATABASE_URL: fx.db.url });
    expect(replace.code, replace.stderr).toBe(0);
    expect(replace.stdout).toContain('--reconcile accounts: not an incremental table with a key; its full load already equals the source');
  });

  it('an incremental table empty at its first load keeps no cursor, so rows written later with old timestamps are loaded (regression: the cursor became the snapshot time)', async () => {
    await fx.db.query(`CREATE TABLE empty_inc (id integer PRIMARY KEY, v text, updated_at timestamp)`);
    const catalog = path.join(fx.dir, 'empty.yaml');
    writeFileSync(catalog, `version: 1\ndataset_prefix: raw_datavision\ntables:\n  empty_inc:\n    write_disposition: merge\n    incremental:\n      cursor_column: updated_at\n`);
    const run = () => runCli(['--env', 'local', '--duckdb-path', fx.duckdbPath, '--catalog', catalog, '--no-reconcile'], { DATABASE_URL: fx.db.url });
    expect((await run()).code).toBe(0);
    const state = await duckQuery(fx.duckdbPath, `SELECT cursor_value FROM ${DATASET}._ingesta_state WHERE table_name = 'empty_inc'`);
    expect(state.map((s) => s.cursor_value)).toEqual([null]);
    await fx.db.query(`INSERT INTO empty_inc VALUES (1, 'old', '2001-01-01'), (2, 'no cursor', NULL)`);
    const second = await run();
    expect(second.code, second.stderr).toBe(0);
    await expectTableEqualsSource(fx.db, fx.duckdbPath, DATASET, 'empty_inc', ['id']);
  });

  it('a table keyed by bytea is not reconciled automatically (regression: the automatic mode failed the run with exit 2), and --reconcile on it is refused before anything is read', async () => {
    await fx.db.query(`CREATE TABLE blob_keyed (k bytea PRIMARY KEY, v text, updated_at timestamp)`);
    await fx.db.query(`INSERT INTO blob_keyed VALUES ('\\x01', 'a', now()), ('\\x02', 'b', now())`);
    const catalog = path.join(fx.dir, 'blob.yaml');
    writeFileSync(catalog, `version: 1\ndataset_prefix: raw_datavision\ntables:\n  blob_keyed:\n    write_disposition: merge\n    incremental:\n      cursor_column: updated_at\n`);
    const run = (...args: string[]) => runCli(['--env', 'local', '--duckdb-path', fx.duckdbPath, '--catalog', catalog, ...args], { DATABASE_URL: fx.db.url });
    expect((await run()).code).toBe(0);
    await fx.db.query(`DELETE FROM blob_keyed WHERE k = '\\x01'`);
    const plain = await run();
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).not.toContain('reconcil');
    const asked = await run('--reconcile');
    expect(asked.code).toBe(2);
    expect(asked.stderr).toContain('key reconciliation needs key columns whose text PostgreSQL can read back; k (bytea) cannot');
  });
});
