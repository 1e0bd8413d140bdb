import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * Regression (issue #13, item 7), on a pagila-like schema: payment is partitioned and its foreign keys are declared
 * on each partition (payment_p2022_01 …), not on the parent. Those keys were not used for the parent, so the gate
 * never checked them; and a run naming the parent and one of its partitions loaded that partition's rows twice.
 */

let db: TestDatabase;
let dir: string;
const DATASET = 'raw_pagila';

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-partitions-'));
  await db.query(`CREATE TABLE customer (customer_id int PRIMARY KEY, name text)`);
  await db.query(`CREATE TABLE staff (staff_id int PRIMARY KEY, name text)`);
  await db.query(`INSERT INTO customer SELECT i, 'c' || i FROM generate_series(1, 10) i`);
  await db.query(`INSERT INTO staff VALUES (1, 'Mike'), (2, 'Jon')`);
  await db.query(`CREATE TABLE payment (payment_id int NOT NULL, customer_id int NOT NULL, staff_id int NOT NULL, amount numeric(5,2), payment_date timestamptz NOT NULL, PRIMARY KEY (payment_date, payment_id)) PARTITION BY RANGE (payment_date)`);
  await db.query(`CREATE TABLE payment_p2022_01 PARTITION OF payment FOR VALUES FROM ('2022-01-01') TO ('2022-02-01')`);
  await db.query(`CREATE TABLE payment_p2022_02 PARTITION OF payment FOR VALUES FROM ('2022-02-01') TO ('2022-03-01')`);
  for (const p of ['payment_p2022_01', 'payment_p2022_02']) {
    await db.query(`ALTER TABLE ${p} ADD CONSTRAINT ${p}_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES customer (customer_id)`);
  }
  // declared on one partition only: not a key of the parent
  await db.query(`ALTER TABLE payment_p2022_01 ADD CONSTRAINT payment_p2022_01_staff_id_fkey FOREIGN KEY (staff_id) REFERENCES staff (staff_id)`);
  await db.query(`INSERT INTO payment SELECT i, 1 + i % 10, 1 + i % 2, i / 10.0, TIMESTAMPTZ '2022-01-01' + (i || ' hours')::interval FROM generate_series(1, 1000) i`);
});

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('partitioned tables', () => {
  it('foreign keys declared on every partition are the parent\'s: the gate checks them (regression: never checked)', async () => {
    const json = path.join(dir, 'report.json');
    const r = await runCli(
      ['--env', 'local', '--duckdb-path', path.join(dir, 'gate.duckdb'), '--dataset', DATASET, '--tables', 'customer', 'staff', 'payment', '--validate', '--report-json', json],
      { DATABASE_URL: db.url },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { checks: { check: string; table: string; status: string; details: { relationship?: string; declaredIn?: string } }[] };
    const ri = report.checks.filter((c) => c.check === 'referential_integrity' && c.table === 'payment');
    expect(ri.map((c) => [c.details.relationship, c.details.declaredIn, c.status])).toEqual([
      ['payment.(customer_id) → customer.(customer_id)', 'source', 'pass'],
    ]);
  });

  it('a parent and one of its partitions in the same run: exit 2 before anything is written (regression: rows loaded twice)', async () => {
    const file = path.join(dir, 'both.duckdb');
    const r = await runCli(['--env', 'local', '--duckdb-path', file, '--dataset', DATASET, '--tables', 'payment', 'payment_p2022_02'], { DATABASE_URL: db.url });
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.stderr).toMatch(/public\.payment_p2022_02 is a partition of public\.payment/);
    expect(r.stderr).toMatch(/loaded twice/);
    expect(existsSync(file)).toBe(false);
    // the partitions alone (without the parent) are fine
    const parts = await runCli(['--env', 'local', '--duckdb-path', file, '--dataset', DATASET, '--tables', 'payment_p2022_01', 'payment_p2022_02'], { DATABASE_URL: db.url });
    expect(parts.code, parts.stderr).toBe(0);
  });
});
