import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { sourceAsAthenaSees } from '../helpers/athena-compare.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/** Glue stores table names in lower case and Athena expects them so: a source table named in upper case. */
const DATASET = 'names_athena';
let db: TestDatabase;
let dir: string;
let lake: Lakehouse;

async function lastRunModes(): Promise<Record<string, string>> {
  const keys = ((await lake.s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: `raw/${DATASET}/_ingesta/runs/` }))).Contents ?? []).map((o) => o.Key!).sort();
  const record = JSON.parse(await (await lake.s3.send(new GetObjectCommand({ Bucket: 'lake', Key: keys[keys.length - 1]! }))).Body!.transformToString()) as {
    tables: { table: string; mode: string }[];
  };
  return Object.fromEntries(record.tables.map((t) => [t.table, t.mode]));
}

beforeAll(async () => {
  db = await createTestDatabase('ingesta_names_athena');
  await db.query(`CREATE TABLE "Visits" (id int PRIMARY KEY, "Place" text, updated_at timestamp NOT NULL)`);
  await db.query(`INSERT INTO "Visits" VALUES (1, 'a', now() - interval '1 hour'), (2, 'b', now() - interval '2 hours')`);
  await db.query(`CREATE TABLE "Places" (id int PRIMARY KEY, name text)`);
  await db.query(`INSERT INTO "Places" VALUES (1, 'x'), (2, 'y')`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-names-athena-'));
  lake = await startLakehouse(dir);
  writeFileSync(
    path.join(dir, 'c.yaml'),
    ['version: 1', 'tables:', '  Visits:', '    primary_key: [id]', '    write_disposition: merge', '    incremental: { cursor_column: updated_at }', '  Places:', '    primary_key: [id]'].join('\n'),
  );
}, 60_000);

afterAll(async () => {
  await lake?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('upper-case table names in dev/prod', () => {
  it('are sent to Glue and Athena in lower case; the merge table stays incremental and Athena reads equal the source', async () => {
    const run = () => runCli(['--env', 'dev', '--catalog', path.join(dir, 'c.yaml'), '--dataset', DATASET], lake.env(db.url));
    const first = await run();
    expect(first.code, first.stderr + first.stdout).toBe(0);
    await db.query(`UPDATE "Visits" SET "Place" = 'changed', updated_at = now() WHERE id = 2`);
    const second = await run();
    expect(second.code, second.stderr + second.stdout).toBe(0);
    // regression: state said "Visits", Glue listed "visits": the table was taken for missing and fully reloaded every run
    expect(await lastRunModes()).toEqual({ Visits: 'incremental', Places: 'full' });
    expect([...lake.aws.tables.keys()].sort()).toEqual([`${DATASET}.places`, `${DATASET}.visits`]);
    expect(lake.aws.statements.filter((s) => /Visits|Places/.test(s))).toEqual([]);
    const visits = await lake.athenaQuery(`SELECT "id", "place", "updated_at" FROM "${DATASET}"."visits" ORDER BY "id"`);
    expect(visits).toEqual((await sourceAsAthenaSees(db, 'Visits', ['id', 'Place', 'updated_at'], 'iceberg', 'id')).map((r) => ({ id: r.id, place: r.Place, updated_at: r.updated_at })));
    expect(await lake.athenaQuery(`SELECT "id", "name" FROM "${DATASET}"."places" ORDER BY "id"`)).toEqual([{ id: '1', name: 'x' }, { id: '2', name: 'y' }]);
  });
});
