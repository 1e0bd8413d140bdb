import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * Regression: the gate named columns as the catalog and the source do, but the destination may rename them — Athena
 * lower-cases every name, DuckDB suffixes a column colliding by case (`Id`, `id` → `Id`, `id__2`). On Athena a
 * mixed-case freshness or checked column failed as "does not exist in the destination"; in DuckDB the key check read
 * the colliding column and reported duplicates that the key does not have.
 */
let db: TestDatabase;
let dir: string;
let lake: Lakehouse;

interface Report {
  checks: { check: string; table: string; status: string; message: string }[];
}

beforeAll(async () => {
  db = await createTestDatabase('ingesta_gate_names');
  await db.query(`CREATE TABLE "Orders" (id int PRIMARY KEY, "OrderDate" date, "Status" text, "UpdatedAt" timestamptz)`);
  await db.query(`INSERT INTO "Orders" VALUES (1, '2024-01-01', 'open', now() - interval '1 hour'), (2, '2024-02-01', 'closed', now() - interval '2 hours')`);
  await db.query(`CREATE TABLE coll ("Id" int, id int PRIMARY KEY)`);
  await db.query(`INSERT INTO coll VALUES (7, 1), (7, 2), (7, 3)`);
  await db.query(`CREATE TABLE stale (id int PRIMARY KEY, updated text)`);
  await db.query(`INSERT INTO stale VALUES (1, 'yesterday')`);
  await db.query(`CREATE TABLE typo (id int PRIMARY KEY, "UpdatedAt" timestamptz)`);
  await db.query(`INSERT INTO typo VALUES (1, now())`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-gate-names-'));
  lake = await startLakehouse(dir);
  writeFileSync(
    path.join(dir, 'c.yaml'),
    [
      'version: 1',
      'tables:',
      '  Orders:',
      '    primary_key: [id]',
      '    freshness_column: UpdatedAt',
      '    checks:',
      "      - { column: Status, accepted_values: [open, closed] }",
      "      - { column: OrderDate, min: '2020-01-01' }",
      '  coll:',
      '    primary_key: [id]',
      '  stale:',
      '    primary_key: [id]',
      '    freshness_column: updated',
      '  typo:',
      '    primary_key: [id]',
      '    freshness_column: UpdatedAtt',
    ].join('\n'),
  );
}, 60_000);

afterAll(async () => {
  await lake?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function expectAllPass(r: { code: number | null; stdout: string; stderr: string }, file: string): void {
  const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
  const bad = report.checks.filter((c) => c.status === 'fail' || c.status === 'warn');
  expect(bad, r.stdout + r.stderr).toEqual([]);
  expect(r.code, r.stderr).toBe(0);
}

describe('the gate names columns as the destination does', () => {
  it('on Athena: mixed-case freshness and checked columns are found (every name lower-cased in Glue)', async () => {
    const args = ['--env', 'dev', '--catalog', path.join(dir, 'c.yaml'), '--dataset', 'names_dev', '--tables', 'Orders'];
    const json = path.join(dir, 'dev.json');
    expectAllPass(await runCli([...args, '--validar-calidad-datos', '--report-json', json], lake.env(db.url)), json);
    expectAllPass(await runCli([...args, '--solo-validar', '--report-json', json], lake.env(db.url)), json);
  });

  it('in DuckDB: the key check reads the key, not the column that collides with it by case (loaded as id__2)', async () => {
    const args = ['--env', 'local', '--catalog', path.join(dir, 'c.yaml'), '--dataset', 'names_local', '--duckdb-path', path.join(dir, 'n.duckdb'), '--tables', 'coll'];
    const json = path.join(dir, 'local.json');
    const r = await runCli([...args, '--validar-calidad-datos', '--report-json', json], { DATABASE_URL: db.url });
    expect(r.stdout + r.stderr).toMatch(/id__2/);
    expectAllPass(r, json);
    expectAllPass(await runCli([...args, '--solo-validar', '--report-json', json], { DATABASE_URL: db.url }), json);
  });

  it('a freshness_column the destination does not have, or not a date or timestamp, fails the gate (regression: skip, exit 0, freshness never checked)', async () => {
    const args = ['--env', 'local', '--catalog', path.join(dir, 'c.yaml'), '--dataset', 'names_fresh', '--duckdb-path', path.join(dir, 'f.duckdb'), '--tables', 'stale', 'typo'];
    const json = path.join(dir, 'fresh.json');
    const r = await runCli([...args, '--validar-calidad-datos', '--report-json', json], { DATABASE_URL: db.url });
    expect(r.code, r.stderr).toBe(6);
    const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
    const freshness = report.checks.filter((c) => c.check === 'freshness').map((c) => [c.table, c.status, c.message]);
    expect(freshness).toEqual([
      ['stale', 'fail', "the catalog's freshness_column updated is of type VARCHAR, not a date or timestamp: fix freshness_column"],
      ['typo', 'fail', "the catalog's freshness_column UpdatedAtt does not exist in the destination: fix freshness_column"],
    ]);
  });
});
