import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckColumnTypes, duckQuery, expectTableEqualsSource } from '../helpers/duckdb.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * A column renamed in the source only by case (`title` → `Title`). DuckDB identifiers ignore case: the stored column
 * is that column, renamed to the new spelling with its values; Athena names are lower case: nothing changes there.
 * Regression: the schema diff compared names with their case, so DuckDB got a second, all-NULL column beside the old
 * one on a full table (`email_1`, warned about on every run) and refused the load of a merge table ("Column with name
 * Title already exists").
 */
const DATASET = 'case_rename';
let db: TestDatabase;
let dir: string;
let lake: Lakehouse | undefined;

beforeAll(async () => {
  db = await createTestDatabase('ingesta_case_rename');
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-case-rename-'));
  writeFileSync(
    path.join(dir, 'c.yaml'),
    ['version: 1', 'tables:', '  items:', '    primary_key: [id]', '    write_disposition: merge', '    incremental: { cursor_column: updated_at }', '  tags:', '    primary_key: [id]'].join('\n'),
  );
}, 60_000);

afterAll(async () => {
  await lake?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Fresh source tables: items (merge, incremental) and tags (replace), three rows each. */
async function seed(): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS items; DROP TABLE IF EXISTS tags`);
  await db.query(`CREATE TABLE items (id int PRIMARY KEY, title text, updated_at timestamp NOT NULL)`);
  await db.query(`INSERT INTO items VALUES (1, 'a', now() - interval '2 hours'), (2, 'b', now() - interval '2 hours'), (3, 'c', now() - interval '2 hours')`);
  await db.query(`CREATE TABLE tags (id int PRIMARY KEY, label text)`);
  await db.query(`INSERT INTO tags VALUES (1, 'x'), (2, 'y'), (3, 'z')`);
}

/** Renames both columns by case only, and changes one row of each table (the incremental read sees it). */
async function renameByCase(): Promise<void> {
  await db.query(`ALTER TABLE items RENAME COLUMN title TO "Title"`);
  await db.query(`UPDATE items SET "Title" = 'b2', updated_at = now() WHERE id = 2`);
  await db.query(`ALTER TABLE tags RENAME COLUMN label TO "Label"`);
  await db.query(`UPDATE tags SET "Label" = 'y2' WHERE id = 2`);
}

/** The run's warnings (not the CLI's own line about the Node version, which depends on the machine). */
const warnings = (stdout: string) => stdout.split('\n').filter((l) => l.startsWith('warning: ') && !l.startsWith('warning: Node '));

describe('a column renamed in the source only by case', () => {
  it('DuckDB: the stored column is renamed with its values, no all-NULL junk column, one warning on the run that renames and none after', async () => {
    await seed();
    const duckdbPath = path.join(dir, 'case.duckdb');
    const ingest = () => runCli(['--env', 'local', '--catalog', path.join(dir, 'c.yaml'), '--dataset', DATASET, '--lag', '0s'], { DATABASE_URL: db.url, DUCKDB_PATH: duckdbPath });
    const first = await ingest();
    expect(first.code, first.stderr + first.stdout).toBe(0);
    await renameByCase();

    const renamed = await ingest();
    expect(renamed.code, renamed.stderr + renamed.stdout).toBe(0);
    expect(warnings(renamed.stdout)).toEqual([
      expect.stringContaining('items: column title is spelled Title in the source now (the same column to the destination); renamed'),
      expect.stringContaining('tags: column label is spelled Label in the source now (the same column to the destination); renamed'),
    ]);
    expect(await duckColumnTypes(duckdbPath, DATASET, 'items')).toEqual({ id: 'INTEGER', Title: 'VARCHAR', updated_at: 'TIMESTAMP' });
    expect(await duckColumnTypes(duckdbPath, DATASET, 'tags')).toEqual({ id: 'INTEGER', Label: 'VARCHAR' });
    // the older rows kept their values in the one column (items 1 and 3 were not re-read), the changed rows the new ones
    expect(await duckQuery(duckdbPath, `SELECT id, "Title" AS t FROM ${DATASET}.items ORDER BY id`)).toEqual([{ id: 1, t: 'a' }, { id: 2, t: 'b2' }, { id: 3, t: 'c' }]);
    expect(await duckQuery(duckdbPath, `SELECT id, "Label" AS l FROM ${DATASET}.tags ORDER BY id`)).toEqual([{ id: 1, l: 'x' }, { id: 2, l: 'y2' }, { id: 3, l: 'z' }]);

    const again = await ingest();
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(warnings(again.stdout)).toEqual([]);
    expect(Object.keys(await duckColumnTypes(duckdbPath, DATASET, 'tags'))).toEqual(['id', 'Label']);
  });

  it('DuckDB: a key and a cursor column renamed only by case keep the merge incremental and the key reconciliation working (regression: "column Content_ID is missing in the destination", a full reload)', async () => {
    await db.query(`DROP TABLE IF EXISTS media`);
    await db.query(`CREATE TABLE media (content_id int PRIMARY KEY, title text, updated_at timestamp NOT NULL)`);
    await db.query(`INSERT INTO media SELECT g, 't' || g, now() - interval '2 hours' FROM generate_series(1, 6) g`);
    const catalog = path.join(dir, 'media.yaml');
    const write = (key: string, cursor: string) =>
      writeFileSync(catalog, ['version: 1', 'tables:', '  media:', `    primary_key: [${key}]`, '    write_disposition: merge', `    incremental: { cursor_column: ${cursor} }`, ''].join('\n'));
    write('content_id', 'updated_at');
    const duckdbPath = path.join(dir, 'media.duckdb');
    const ingest = (...more: string[]) =>
      runCli(['--env', 'local', '--catalog', catalog, '--dataset', DATASET, '--lag', '0s', '--no-schema-export', ...more], { DATABASE_URL: db.url, DUCKDB_PATH: duckdbPath });
    expect((await ingest()).code).toBe(0);

    await db.query(`ALTER TABLE media RENAME COLUMN content_id TO "Content_ID"`);
    await db.query(`ALTER TABLE media RENAME COLUMN updated_at TO "Updated_At"`);
    await db.query(`UPDATE media SET title = 'changed', "Updated_At" = now() WHERE "Content_ID" = 2`);
    await db.query(`DELETE FROM media WHERE "Content_ID" = 6`);
    // the catalog still names the old spelling: refused, saying what the source calls the columns now
    const stale = await ingest();
    expect(stale.code).toBe(2);
    expect(stale.stderr).toMatch(/Table media: columns content_id, updated_at named in the catalog .* do not exist in the source \(spelled Content_ID, Updated_At there now: update the catalog\)/);
    write('Content_ID', 'Updated_At');

    const renamed = await ingest('--reconcile', 'media');
    expect(renamed.code, renamed.stderr + renamed.stdout).toBe(0);
    expect(warnings(renamed.stdout)).toEqual([
      expect.stringContaining('media: column content_id is spelled Content_ID in the source now (the same column to the destination); renamed'),
      expect.stringContaining('media: column updated_at is spelled Updated_At in the source now (the same column to the destination); renamed'),
    ]);
    // still incremental (the stored cursor is the same column), reconciled: the deleted key is gone
    expect(renamed.stdout).toMatch(/^media +incremental /m);
    expect(renamed.stdout).toMatch(/reconciled media: 5 source keys compared, 0 rows re-read .*, 1 keys deleted in the source/);
    expect(await duckColumnTypes(duckdbPath, DATASET, 'media')).toEqual({ Content_ID: 'INTEGER', title: 'VARCHAR', Updated_At: 'TIMESTAMP' });
    await expectTableEqualsSource(db, duckdbPath, DATASET, 'media', ['Content_ID']);
    const [state] = await duckQuery(duckdbPath, `SELECT cursor_column FROM ${DATASET}._ingesta_state WHERE table_name = 'media'`);
    expect(state).toEqual({ cursor_column: 'Updated_At' });

    // the automatic reconciliation (a row deleted in the source) on the renamed key
    await db.query(`DELETE FROM media WHERE "Content_ID" = 5`);
    const auto = await ingest();
    expect(auto.code, auto.stderr + auto.stdout).toBe(0);
    expect(auto.stdout).toMatch(/reconciled media: 4 source keys compared, 0 rows re-read .*, 1 keys deleted in the source/);
    await expectTableEqualsSource(db, duckdbPath, DATASET, 'media', ['Content_ID']);
  });

  it('Athena (names in lower case): the same column before and after, no schema change reported, values follow the source', async () => {
    await seed();
    lake = await startLakehouse(dir);
    const ingest = () => runCli(['--env', 'dev', '--catalog', path.join(dir, 'c.yaml'), '--dataset', DATASET, '--lag', '0s'], lake!.env(db.url));
    const first = await ingest();
    expect(first.code, first.stderr + first.stdout).toBe(0);
    await renameByCase();

    const renamed = await ingest();
    expect(renamed.code, renamed.stderr + renamed.stdout).toBe(0);
    // no schema change: only the naming rule's line that any mixed-case source column gets in dev/prod
    const naming = [
      'warning: items: column "Title" is loaded as "title" (names differ only in case)',
      'warning: tags: column "Label" is loaded as "label" (names differ only in case)',
    ];
    expect(warnings(renamed.stdout)).toEqual(naming);
    expect(await lake.athenaQuery(`SELECT * FROM "${DATASET}"."items" ORDER BY "id"`)).toEqual([
      expect.objectContaining({ id: '1', title: 'a' }),
      expect.objectContaining({ id: '2', title: 'b2' }),
      expect.objectContaining({ id: '3', title: 'c' }),
    ]);
    expect(await lake.athenaQuery(`SELECT * FROM "${DATASET}"."tags" ORDER BY "id"`)).toEqual([{ id: '1', label: 'x' }, { id: '2', label: 'y2' }, { id: '3', label: 'z' }]);
    const again = await ingest();
    expect(again.code, again.stderr + again.stdout).toBe(0);
    expect(warnings(again.stdout)).toEqual(naming);
    expect(Object.keys((await lake.athenaQuery(`SELECT * FROM "${DATASET}"."tags" ORDER BY "id"`))[0]!)).toEqual(['id', 'label']);
  });
});
