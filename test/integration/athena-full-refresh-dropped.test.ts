import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * A column the source dropped stays in a merge table (NULL in new rows) "until --full-refresh removes it".
 * Regression: on Athena the full refresh merged the batch into the Iceberg table and kept the column, with its old
 * value in every row, exit 0 — after warning "(--full-refresh dd removes it)". It now rebuilds the table without it.
 */
let db: TestDatabase;
let dir: string;
let lake: Lakehouse;

beforeAll(async () => {
  db = await createTestDatabase('ingesta_refresh_dropped');
  await db.query(`CREATE TABLE dd (id int PRIMARY KEY, updated_at timestamptz NOT NULL, a text, b text)`);
  await db.query(`INSERT INTO dd VALUES (1, now() - interval '1 hour', 'a1', 'b1'), (2, now() - interval '1 hour', 'a2', 'b2')`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-refresh-dropped-'));
  lake = await startLakehouse(dir);
  writeFileSync(path.join(dir, 'c.yaml'), ['version: 1', 'tables:', '  dd:', '    primary_key: [id]', '    write_disposition: merge', '    incremental: { cursor_column: updated_at }'].join('\n'));
}, 60_000);

afterAll(async () => {
  await lake?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('Athena: --full-refresh of a merge table whose source dropped a column', () => {
  it('rebuilds the Iceberg table without it (regression: the column stayed with its old values, after "--full-refresh removes it")', async () => {
    const args = ['--env', 'dev', '--catalog', path.join(dir, 'c.yaml'), '--dataset', 'dropped_dev', '--lag', '0'];
    expect((await runCli(args, lake.env(db.url))).code).toBe(0);
    await db.query(`ALTER TABLE dd DROP COLUMN b`);
    await db.query(`UPDATE dd SET a = 'a2b', updated_at = now() WHERE id = 2`);

    const kept = await runCli(args, lake.env(db.url));
    expect(kept.code, kept.stdout + kept.stderr).toBe(0);
    expect(kept.stdout).toMatch(/column b \(VARCHAR\) no longer exists in the source; kept in the destination, NULL in new rows \(--full-refresh dd removes it\)/);
    // (the merge updates the batch's columns: row 2 keeps its old b)
    expect(await lake.athenaQuery('SELECT id, a, b FROM dropped_dev.dd ORDER BY id')).toEqual([
      { id: '1', a: 'a1', b: 'b1' },
      { id: '2', a: 'a2b', b: 'b2' },
    ]);

    const refresh = await runCli([...args, '--full-refresh', 'dd'], lake.env(db.url));
    expect(refresh.code, refresh.stdout + refresh.stderr).toBe(0);
    expect(refresh.stdout).toMatch(/rebuilt the Iceberg table without b \(no longer in the source\)/);
    expect(await lake.athenaQuery('SELECT * FROM dropped_dev.dd ORDER BY id')).toEqual([
      { id: '1', updated_at: expect.any(String), a: 'a1' },
      { id: '2', updated_at: expect.any(String), a: 'a2b' },
    ]);

    // the next runs merge into the rebuilt table
    await db.query(`UPDATE dd SET a = 'a1b', updated_at = now() WHERE id = 1`);
    const next = await runCli(args, lake.env(db.url));
    expect(next.code, next.stdout + next.stderr).toBe(0);
    expect(next.stdout).not.toMatch(/rebuilt|no longer exists/);
    expect(await lake.athenaQuery('SELECT id, a FROM dropped_dev.dd ORDER BY id')).toEqual([
      { id: '1', a: 'a1b' },
      { id: '2', a: 'a2b' },
    ]);
  });

  it('a full table: the warning says the column is removed, as it is (regression: "kept in the destination, NULL in new rows" while Athena no longer had it)', async () => {
    await db.query(`CREATE TABLE rf (id int PRIMARY KEY, a text, b text)`);
    await db.query(`INSERT INTO rf VALUES (1, 'a', 'b')`);
    const catalog = path.join(dir, 'rf.yaml');
    writeFileSync(catalog, ['version: 1', 'tables:', '  rf:', '    primary_key: [id]'].join('\n'));
    const args = ['--env', 'dev', '--catalog', catalog, '--dataset', 'dropped_dev'];
    expect((await runCli(args, lake.env(db.url))).code).toBe(0);
    await db.query(`ALTER TABLE rf DROP COLUMN b`);
    const r = await runCli(args, lake.env(db.url));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/warning: rf: column b no longer exists in the source; removed by this full load \(the table takes the source's columns\)/);
    expect(r.stdout).not.toMatch(/kept in the destination/);
    expect(await lake.athenaQuery('SELECT * FROM dropped_dev.rf')).toEqual([{ id: '1', a: 'a' }]);
  });
});
