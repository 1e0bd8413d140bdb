import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig, run, validate, type RunOptions, type RunSummary } from '../../src/index.js';
import { createDestination } from '../../src/destination/create-destination.js';
import { beginLoadOf, keyReconcilerOf } from '../../src/destination/destination.js';
import { runCli } from '../helpers/cli.js';
import { DESTINATION_DRIVERS } from '../helpers/destination-drivers.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * One behaviour suite for every destination (as kysely runs one suite over every dialect): the same source changes,
 * the same runs, the same expectations, against DuckDB and against S3 + Glue + Athena (the executing stand-in). Each
 * case builds on the one before and ends with the destination equal to the source, value by value.
 */

const DATASET = 'behaviour';

const CATALOG = `version: 1
dataset_prefix: behaviour
defaults:
  schema: public
tables:
  customers:
    primary_key: [id]
    write_disposition: replace
    checks:
      - { column: balance, min: 0 }
  orders:
    primary_key: [id]
    write_disposition: merge
    incremental:
      cursor_column: updated_at
relationships:
  - { table: orders, columns: [customer_id], references: customers, referenced_columns: [id] }
`;

const SOURCE = [
  `CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, balance numeric(12,2), joined timestamptz, vip boolean, born date)`,
  `INSERT INTO customers SELECT i, 'customer ' || i || CASE WHEN i % 7 = 0 THEN ' "quoted", ünïcode' ELSE '' END, (i * 12.34)::numeric(12,2),
     TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '1 hour 0.123456 s', i % 2 = 0, CASE WHEN i % 5 = 0 THEN NULL ELSE DATE '1990-01-01' + i END
   FROM generate_series(1, 40) i`,
  `CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers (id), quantity integer, amount numeric(12,2),
     note text, updated_at timestamp(6) NOT NULL)`,
  `INSERT INTO orders SELECT i, 1 + i % 40, i % 9, (i * 3.5)::numeric(12,2), CASE WHEN i % 11 = 0 THEN NULL ELSE 'note ' || i END,
     TIMESTAMP '2024-02-01 00:00:00' + i * INTERVAL '1 minute 0.000001 s'
   FROM generate_series(1, 200) i`,
];

const tableOf = (summary: RunSummary, table: string) => summary.tables.find((t) => t.table === table);

describe.each(DESTINATION_DRIVERS.map((make) => make()))('destination behaviour: $name', (driver) => {
  let db: TestDatabase;
  let dir: string;
  let catalog: string;

  const options = (extra: RunOptions = {}): RunOptions => ({ ...driver.options(), catalog, dataset: DATASET, ...extra });
  const env = (extra: Record<string, string> = {}) => ({ ...driver.env(db.url), ...extra });
  const ingest = (extra: RunOptions = {}, more: Record<string, string> = {}) => run(options(extra), { env: env(more) });
  const expectEqualsSource = async (label: string) => {
    expect(await driver.expectEqualsSource(db, DATASET, 'customers', 'id'), `${label}: customers`).toBe(Number((await db.query('SELECT count(*) AS n FROM customers'))[0]!.n));
    expect(await driver.expectEqualsSource(db, DATASET, 'orders', 'id'), `${label}: orders`).toBe(Number((await db.query('SELECT count(*) AS n FROM orders'))[0]!.n));
  };

  beforeAll(async () => {
    db = await createTestDatabase('ingesta_behaviour');
    for (const sql of SOURCE) await db.query(sql);
    dir = mkdtempSync(path.join(tmpdir(), 'ingesta-behaviour-'));
    catalog = path.join(dir, 'catalog.yaml');
    writeFileSync(catalog, CATALOG);
    await driver.start(dir);
  });

  afterAll(async () => {
    await driver.stop();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('full load: both tables equal the source; state, history and the optional parts are as the capabilities say', async () => {
    const summary = await ingest();
    expect(tableOf(summary, 'customers')).toMatchObject({ mode: 'full', rowsExtracted: 40 });
    expect(tableOf(summary, 'orders')).toMatchObject({ mode: 'full', rowsExtracted: 200 });
    await expectEqualsSource('full load');

    const destination = await createDestination(resolveConfig(options(), env()), DATASET, { readOnly: true });
    await destination.open();
    try {
      const { capabilities } = destination;
      // the optional parts exist exactly when the capability data say so; the pipeline reads the flags, not the members
      expect(keyReconcilerOf(destination) !== undefined).toBe(capabilities.keyReconciliation);
      expect(typeof destination.beginLoad === 'function').toBe(capabilities.loadWhileExtracting);
      if (!capabilities.loadWhileExtracting) expect(await beginLoadOf(destination, { runId: 'x' }, dir)).toBeUndefined();
      const [max] = await db.query(`SELECT max(updated_at)::text AS v FROM orders`);
      expect((await destination.readState()).get('orders')).toMatchObject({ cursorColumn: 'updated_at', cursorValue: max!.v, runId: summary.runId });
      expect([...(await destination.existingTables())]).toEqual(expect.arrayContaining(['customers', 'orders']));
      expect(await destination.history.isRunLoaded(summary.runId)).toBe(true);
      const status = await destination.history.status(5);
      expect(status.tables.map((t) => t.table)).toEqual(['customers', 'orders']);
      expect(status.runs[0]).toMatchObject({ runId: summary.runId, status: 'loaded' });
      expect(Object.keys((await destination.history.schemaDocument()).tables).sort()).toEqual(['customers', 'orders']);
    } finally {
      await destination.close();
    }
  });

  it('incremental merge: changed and new rows are merged by key; the full table is replaced', async () => {
    await db.query(`UPDATE orders SET note = 'changed', amount = amount + 1, updated_at = TIMESTAMP '2024-03-01 10:00:00.654321' + id * INTERVAL '1 s' WHERE id % 10 = 0`);
    await db.query(`INSERT INTO orders SELECT i, 1 + i % 40, 1, 9.99, 'new', TIMESTAMP '2024-03-02 00:00:00' + i * INTERVAL '1 s' FROM generate_series(201, 220) i`);
    await db.query(`UPDATE customers SET balance = balance + 0.01, vip = NOT vip WHERE id % 4 = 0`);
    const summary = await ingest();
    const orders = tableOf(summary, 'orders')!;
    expect(orders.mode).toBe('incremental');
    // the 20 changed and 20 new rows, and the re-read window (lag) before the cursor: never the whole table again
    expect(orders.rowsExtracted).toBeGreaterThanOrEqual(40);
    expect(orders.rowsExtracted).toBeLessThan(120);
    expect(tableOf(summary, 'customers')!.mode).toBe('full');
    await expectEqualsSource('incremental merge');
  });

  it('deletes found by reconciliation: hard deletes and a back-dated insert that the cursor cannot see', async () => {
    await db.query(`DELETE FROM orders WHERE id % 13 = 0`);
    await db.query(`INSERT INTO orders VALUES (500, 1, 1, 1.00, 'back-dated', TIMESTAMP '2024-01-15 00:00:00')`);
    const summary = await ingest({ reconcile: ['orders'] });
    expect(tableOf(summary, 'orders')!.mode).toBe('incremental');
    expect(await driver.count(DATASET, 'orders', 'id % 13 = 0')).toBe(0);
    expect(await driver.count(DATASET, 'orders', 'id = 500')).toBe(1);
    await expectEqualsSource('reconciliation');
  });

  it('schema evolution: a column added (older rows filled with its default) and columns widened', async () => {
    await db.query(`ALTER TABLE orders ADD COLUMN channel text DEFAULT 'web'`);
    await db.query(`ALTER TABLE orders ALTER COLUMN quantity TYPE bigint, ALTER COLUMN amount TYPE numeric(16,2)`);
    await db.query(`UPDATE orders SET quantity = 5000000000, amount = 12345678901234.56, channel = 'app', updated_at = TIMESTAMP '2024-04-01 00:00:00.000001' WHERE id = 7`);
    await db.query(`ALTER TABLE customers ADD COLUMN tier text`);
    await db.query(`UPDATE customers SET tier = 'gold' WHERE id % 3 = 0`);
    const summary = await ingest();
    expect(tableOf(summary, 'orders')!.mode).toBe('incremental');
    const types = await driver.columnTypes(DATASET, 'orders');
    expect(types.quantity).toBe('bigint');
    expect(types.amount).toBe('decimal(16,2)');
    expect(Object.keys(types)).toContain('channel');
    expect(Object.keys(await driver.columnTypes(DATASET, 'customers'))).toContain('tier');
    await expectEqualsSource('schema evolution');
  });

  it('quality gate: passes on clean data; fails on a planted defect, which names the check (the load is committed)', async () => {
    const pass = await validate(options(), { env: env() });
    expect(pass.checks.length).toBeGreaterThanOrEqual(6);
    expect(pass.checks.filter((c) => c.status === 'fail')).toEqual([]);
    expect(pass.checks.map((c) => c.check)).toEqual(expect.arrayContaining(['row_count', 'duplicates', 'referential_integrity', 'min']));

    await db.query(`UPDATE customers SET balance = -1 WHERE id = 3`);
    const summary = await ingest({ validate: true });
    const failed = summary.quality!.checks.filter((c) => c.status === 'fail');
    expect(failed.map((c) => [c.table, c.check])).toEqual([['customers', 'min']]);
    expect(failed[0]!.message).toMatch(/balance/);
    await expectEqualsSource('after the failed gate');
    await db.query(`UPDATE customers SET balance = 3 WHERE id = 3`);
  });

  it('crash recovery: a run killed after extraction changes nothing visible; the next run completes its package', async () => {
    await db.query(`UPDATE orders SET note = 'before the crash', updated_at = TIMESTAMP '2024-05-01 00:00:00' + id * INTERVAL '1 ms' WHERE id % 4 = 0`);
    await db.query(`UPDATE customers SET name = name || ' (crash round)' WHERE id % 2 = 1`);
    const killed = await runCli([...driver.cliArgs(), '--catalog', catalog, '--dataset', DATASET], { ...env(), INGESTA_CRASH_AT: 'after-extract' });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(await driver.count(DATASET, 'orders', `note = 'before the crash'`)).toBe(0);
    expect(await driver.count(DATASET, 'customers', `name LIKE '%(crash round)'`)).toBe(0);

    const reasons: string[] = [];
    const summary = await run(options(), {
      env: env(await driver.afterKill()),
      onEvent: (e) => void (e.type === 'package_recovered' && reasons.push(`${e.action}: ${e.reason}`)),
    });
    expect(summary.recovered, reasons.join('; ')).toEqual([expect.objectContaining({ action: 'completed' })]);
    await expectEqualsSource('after recovery');
  });
});
