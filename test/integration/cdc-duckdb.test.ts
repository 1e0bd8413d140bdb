import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, validate } from '../../src/pipeline/run.js';
import type { PipelineEvent } from '../../src/pipeline/events.js';
import { duckQuery, expectTableEqualsSource } from '../helpers/duckdb.js';
import { startLogicalCluster } from '../helpers/logical-cluster.js';
import type { PgCluster } from '../helpers/pg-cluster.js';
import type { TestDatabase } from '../helpers/postgres.js';

const DATASET = 'raw_cdc';
const raw = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
let cluster: PgCluster;
let db: TestDatabase;
let dir: string;
let duckdbPath: string;

const TABLES = ['items', 'notes', 'keyless', 'parts'];

async function ingest(extra: Record<string, unknown> = {}): Promise<{ events: PipelineEvent[] }> {
  const events: PipelineEvent[] = [];
  await run(
    { env: 'local', duckdbPath, dataset: DATASET, sourceUrl: db.url, tables: TABLES, cdc: true, schemaExport: false, ...extra },
    { onEvent: (e) => events.push(e), env: {} },
  );
  return { events };
}

/** items, value by value: bytea as hex, arrays as their elements, the TOASTed text as its md5 and length. */
async function expectItemsEqual(): Promise<void> {
  const source = await db.query(
    `SELECT id::text, title, price::text, array_to_string(tags, ',', 'NULL') AS tags, encode(blob, 'hex') AS blob, span::text, md5(big) || length(big) AS big, to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US') AS updated_at FROM items ORDER BY id`,
  );
  const dest = await duckQuery(
    duckdbPath,
    `SELECT id::VARCHAR AS id, title, price::VARCHAR AS price, array_to_string(list_transform(tags, x -> coalesce(x::VARCHAR, 'NULL')), ',') AS tags, lower(hex(blob)) AS blob, ` +
      `span, md5(big) || length(big)::VARCHAR AS big, strftime(updated_at, '%Y-%m-%d %H:%M:%S.%f') AS updated_at FROM ${DATASET}.items ORDER BY id`,
  );
  const span = await db.query<{ id: string; months: string; days: string; micros: string }>(
    `SELECT id::text, (extract(year from span) * 12 + extract(month from span))::text AS months, extract(day from span)::text AS days, (extract(epoch from span) - extract(day from span) * 86400)::text AS micros FROM items ORDER BY id`,
  );
  expect(dest.length).toBe(source.length);
  for (let i = 0; i < source.length; i += 1) {
    const s = source[i]!;
    const d = dest[i]!;
    expect({ ...d, span: undefined, updated_at: undefined }, `items row ${s.id}`).toEqual({ ...s, span: undefined, updated_at: undefined });
    expect(d.span === null, `items ${s.id} span`).toBe(span[i]!.months === null);
    expect(d.updated_at, `items ${s.id} updated_at`).toBe(s.updated_at);
  }
}

/** The gate's row_count on each CDC table: the destination's count is the source's at the stream's end point. */
function expectRowCountsExact(events: readonly PipelineEvent[]): void {
  const report = events.find((e) => e.type === 'quality_finished');
  const checks = report?.type === 'quality_finished' ? report.report.checks.filter((c) => c.check === 'row_count') : [];
  expect(checks.map((c) => c.table).sort()).toEqual([...TABLES].sort());
  for (const c of checks) {
    // (a TRUNCATE between the end point and the snapshot leaves the count underivable: skipped, with a note)
    if (events.some((e) => e.type === 'note' && e.message.includes(`${c.table} was truncated between`))) expect(c.status).toBe('skip');
    else expect({ table: c.table, status: c.status, observed: c.observed }, c.message).toEqual({ table: c.table, status: 'pass', observed: c.expected });
  }
}

async function expectAllEqual(): Promise<void> {
  await expectItemsEqual();
  await expectTableEqualsSource(db, duckdbPath, DATASET, 'notes', ['note_id']);
  await expectTableEqualsSource(db, duckdbPath, DATASET, 'keyless', ['a', 'b']);
  await expectTableEqualsSource(db, duckdbPath, DATASET, 'parts', ['id', 'region']);
}

beforeAll(async () => {
  cluster = await startLogicalCluster();
  await cluster.exec('CREATE DATABASE cdc');
  const url = cluster.url('postgres', undefined, 'cdc');
  const client = new pg.Client({ connectionString: url, types: raw });
  await client.connect();
  await client.query("SET TimeZone = 'UTC'");
  db = {
    name: 'cdc', url, client,
    query: async (sql, params) => (await client.query(sql, params)).rows,
    drop: async () => undefined,
  } as TestDatabase;
  await client.query(`CREATE TABLE items (id int PRIMARY KEY, title text, price numeric(10,2), tags int[], blob bytea, span interval, big text, updated_at timestamptz)`);
  await client.query(`ALTER TABLE items ALTER COLUMN big SET STORAGE EXTERNAL`);
  await client.query(`CREATE TABLE notes (note_id bigint PRIMARY KEY, body text)`);
  await client.query(`CREATE TABLE keyless (a int, b text)`);
  await client.query(`ALTER TABLE keyless REPLICA IDENTITY FULL`);
  await client.query(`INSERT INTO items SELECT g, 'item ' || g, g * 1.5, ARRAY[g, g + 1], '\\x00ff'::bytea, '1 day 2 hours', repeat('x', 5000) || g, now() FROM generate_series(1, 50) g`);
  await client.query(`INSERT INTO notes SELECT g, 'note ' || g FROM generate_series(1, 20) g`);
  await client.query(`INSERT INTO keyless VALUES (1, 'one'), (1, 'one'), (2, 'two')`);
  await client.query(`CREATE TABLE parts (id int, region text, amount int, PRIMARY KEY (id, region)) PARTITION BY LIST (region)`);
  await client.query(`CREATE TABLE parts_eu PARTITION OF parts FOR VALUES IN ('eu')`);
  await client.query(`CREATE TABLE parts_us PARTITION OF parts FOR VALUES IN ('us')`);
  await client.query(`INSERT INTO parts SELECT g, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END, g FROM generate_series(1, 30) g`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-cdc-'));
  duckdbPath = path.join(dir, 'cdc.duckdb');
}, 120_000);

afterAll(async () => {
  await db?.client.end().catch(() => undefined);
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('change data capture into DuckDB', () => {
  it('first run: slot with an exported snapshot, every table in full; later runs apply inserts, updates, deletes, truncates, unchanged TOAST', async () => {
    const first = await ingest();
    expect(first.events.some((e) => e.type === 'warning' && /first run/.test(e.message))).toBe(true);
    await expectAllEqual();

    await db.query(`INSERT INTO items (id, title, price, tags, big) VALUES (100, 'new', 1.25, ARRAY[7], 'short')`);
    await db.query(`UPDATE items SET title = 'changed' WHERE id = 1`); // big is unchanged TOAST: must be kept
    await db.query(`UPDATE items SET id = 1001 WHERE id = 2`); // key change
    await db.query(`DELETE FROM items WHERE id = 3`);
    await db.query(`UPDATE items SET title = NULL, span = '-3 days +04:05:06.5', blob = '\\xdeadbeef' WHERE id = 4`);
    await db.query(`INSERT INTO notes VALUES (21, 'x')`);
    await db.query(`UPDATE notes SET body = 'y' WHERE note_id = 21`);
    await db.query(`DELETE FROM notes WHERE note_id = 21`);
    await db.query(`UPDATE keyless SET b = 'uno' WHERE ctid = (SELECT min(ctid) FROM keyless WHERE a = 1)`);
    await db.query(`DELETE FROM keyless WHERE a = 2`);
    // a partitioned table: changes of its partitions arrive under its name (publish_via_partition_root)
    await db.query(`UPDATE parts SET amount = amount * 10 WHERE id < 10`);
    await db.query(`DELETE FROM parts WHERE id = 20`);
    await db.query(`INSERT INTO parts VALUES (31, 'eu', 31)`);
    const second = await ingest();
    expect(second.events.some((e) => e.type === 'warning')).toBe(false);
    await expectAllEqual();
    const big = await duckQuery(duckdbPath, `SELECT length(big) AS n FROM ${DATASET}.items WHERE id = 1`);
    expect(Number(big[0]!.n)).toBe(5001);

    await db.query(`TRUNCATE notes`);
    await db.query(`INSERT INTO notes VALUES (5, 'after truncate')`);
    await ingest();
    await expectAllEqual();
    // nothing changed: nothing to apply, nothing twice
    await ingest();
    await expectAllEqual();
  }, 120_000);

  it('with concurrent writers (a transaction open across a run, back-dated updated_at, TRUNCATE, a keyless table), the run after they stop leaves every table equal to the source', async () => {
    const writer = new pg.Client({ connectionString: db.url, types: raw });
    const holder = new pg.Client({ connectionString: db.url, types: raw });
    await writer.connect();
    await holder.connect();
    let stop = false;
    let truncate = false;
    let id = 10_000;
    const writes = (async () => {
      for (let i = 0; !stop; i += 1) {
        id += 1;
        await writer.query(`INSERT INTO items (id, title, price, big, updated_at) VALUES ($1, 'w', 2.5, repeat('y', 3000), now())`, [id]);
        await writer.query(`UPDATE items SET title = 'u' || $1::text WHERE id = (SELECT id FROM items WHERE id > 10 ORDER BY random() LIMIT 1)`, [i]);
        // back-dated: a cursor would never see it
        await writer.query(`UPDATE items SET price = price + 1, updated_at = '2001-01-01' WHERE id = (SELECT id FROM items ORDER BY random() LIMIT 1)`);
        if (i % 3 === 0) await writer.query(`DELETE FROM items WHERE id = (SELECT id FROM items WHERE id > 10 ORDER BY random() LIMIT 1)`);
        await writer.query(`INSERT INTO notes VALUES ($1, 'w') ON CONFLICT (note_id) DO UPDATE SET body = 'again'`, [id % 40]);
        await writer.query(`INSERT INTO keyless VALUES ($1, 'k')`, [i % 5]);
        if (i % 4 === 0) await writer.query(`DELETE FROM keyless WHERE ctid = (SELECT min(ctid) FROM keyless)`);
        if (truncate) {
          // waits for a run's ACCESS SHARE lock at most; never queued behind the open transaction (that would make
          // the run's own lock wait behind it: the documented lock-timeout case)
          await writer.query(`TRUNCATE notes`);
          truncate = false;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // a transaction open across a run: its changes commit after the run has read past them in the WAL
    await holder.query('BEGIN');
    await holder.query(`UPDATE items SET title = 'held open' WHERE id = 5`);
    await holder.query(`INSERT INTO notes VALUES (999, 'held open')`);
    try {
      expectRowCountsExact((await ingest({ validate: true })).events);
    } finally {
      await holder.query('COMMIT');
    }
    truncate = true;
    expectRowCountsExact((await ingest({ validate: true })).events);
    expectRowCountsExact((await ingest({ validate: true })).events);
    stop = true;
    await writes;
    await writer.end();
    await holder.end();
    await ingest();
    await expectAllEqual();
    const held = await duckQuery(duckdbPath, `SELECT title FROM ${DATASET}.items WHERE id = 5`);
    expect(held[0]?.title).toBe('held open');
  }, 240_000);

  it('schema changes: a column added with a DEFAULT is backfilled, a widened type follows, later changes carry the new column', async () => {
    await db.query(`ALTER TABLE notes ADD COLUMN flag text DEFAULT 'd'`);
    await db.query(`ALTER TABLE notes ADD COLUMN qty int`);
    await db.query(`INSERT INTO notes VALUES (70001, 'after add', 'x', 5)`);
    await ingest();
    await expectAllEqual();
    const flags = await duckQuery(duckdbPath, `SELECT count(*)::INT AS n FROM ${DATASET}.notes WHERE flag IS NULL`);
    expect(Number(flags[0]!.n)).toBe(0);
    await db.query(`ALTER TABLE notes ALTER COLUMN qty TYPE bigint`);
    await db.query(`UPDATE notes SET qty = 9000000000 WHERE note_id = 70001`);
    await ingest();
    await expectAllEqual();
    const types = await duckQuery(duckdbPath, `SELECT data_type FROM duckdb_columns() WHERE schema_name = '${DATASET}' AND table_name = 'notes' AND column_name = 'qty'`);
    expect(types[0]!.data_type).toBe('BIGINT');
  }, 120_000);

  it('a lost state (the destination file replaced) recreates the slot with a new snapshot, never a silent skip', async () => {
    rmSync(duckdbPath, { force: true });
    await db.query(`UPDATE items SET title = 'while the destination was gone' WHERE id = 6`);
    const r = await ingest();
    expect(r.events.some((e) => e.type === 'warning' && /holds no change data capture state for items .*\(re\)created/.test(e.message))).toBe(true);
    await expectAllEqual();
  }, 120_000);

  it('a signal while the first run waits for a running transaction to create its slot stops the run at once (regression: it waited for the transaction)', async () => {
    const open = new pg.Client({ connectionString: db.url, types: raw });
    await open.connect();
    try {
      await open.query('BEGIN');
      // an insert always takes a transaction id (regression: an UPDATE of note 1, which the writers of an earlier
      // case may have left out, took none, so the slot did not wait and the run finished before the signal)
      await open.query(`INSERT INTO notes (note_id, body) VALUES (90001, 'open')`);
      const controller = new AbortController();
      const started = Date.now();
      setTimeout(() => controller.abort(), 1500);
      const other = path.join(dir, 'other.duckdb');
      await expect(
        run({ env: 'local', duckdbPath: other, dataset: 'raw_cdc_signal', sourceUrl: db.url, tables: ['notes'], cdc: true, schemaExport: false }, { env: {}, signal: controller.signal }),
      ).rejects.toThrow(/Stopped by a signal/);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await open.query('ROLLBACK');
      await open.end();
    }
  }, 60_000);

  it('a catalog mixing incremental.method cdc, a cursor table and a full table: each keeps its own mode, all equal to the source', async () => {
    await db.query(`CREATE TABLE stamped (id int PRIMARY KEY, v text, updated_at timestamptz NOT NULL DEFAULT now())`);
    await db.query(`INSERT INTO stamped SELECT g, 'v' || g, now() FROM generate_series(1, 20) g`);
    const catalog = path.join(dir, 'mixed.yaml');
    writeFileSync(
      catalog,
      `version: 1\ntables:\n  notes:\n    primary_key: [note_id]\n    incremental: { method: cdc }\n` +
        `  stamped:\n    primary_key: [id]\n    write_disposition: merge\n    incremental: { cursor_column: updated_at }\n  keyless: {}\n`,
    );
    const mixed = path.join(dir, 'mixed.duckdb');
    const go = async () => {
      const modes = new Map<string, string>();
      await run(
        { env: 'local', duckdbPath: mixed, dataset: 'raw_mixed', sourceUrl: db.url, catalog, schemaExport: false },
        { env: {}, onEvent: (e) => (e.type === 'table_loaded' ? modes.set(e.table, e.mode) : undefined) },
      );
      return Object.fromEntries(modes);
    };
    expect(await go()).toEqual({ notes: 'full', stamped: 'full', keyless: 'full' });
    await db.query(`INSERT INTO notes VALUES (80001, 'mixed')`);
    await db.query(`DELETE FROM notes WHERE note_id = 80001 - 80000`);
    await db.query(`UPDATE stamped SET v = 'changed', updated_at = now() WHERE id = 3`);
    expect(await go()).toEqual({ notes: 'incremental', stamped: 'incremental', keyless: 'full' });
    await expectTableEqualsSource(db, mixed, 'raw_mixed', 'notes', ['note_id']);
    await expectTableEqualsSource(db, mixed, 'raw_mixed', 'stamped', ['id']);
    await expectTableEqualsSource(db, mixed, 'raw_mixed', 'keyless', ['a', 'b']);

    // --cdc over the same catalog: the cursor table is read by CDC too (its state now holds an LSN); --solo-validar
    // then must not read that LSN as an updated_at cursor (regression: "invalid input syntax for type timestamp")
    await run({ env: 'local', duckdbPath: mixed, dataset: 'raw_mixed', sourceUrl: db.url, catalog, cdc: true, tables: ['notes', 'stamped'], schemaExport: false }, { env: {} });
    // (rows inserted and deleted since the load: counted at the stored LSN they are not there yet, so row_count passes)
    await db.query(`INSERT INTO notes VALUES (80002, 'since'), (80003, 'since')`);
    await db.query(`DELETE FROM stamped WHERE id = 4`);
    const gate = await validate({ env: 'local', duckdbPath: mixed, dataset: 'raw_mixed', sourceUrl: db.url, catalog, cdc: true, tables: ['notes', 'stamped'] }, { env: {} });
    for (const table of ['notes', 'stamped']) {
      const c = gate.checks.find((x) => x.check === 'row_count' && x.table === table)!;
      expect({ table, status: c.status, observed: c.observed }, c.message).toEqual({ table, status: 'pass', observed: c.expected });
    }
  }, 120_000);
});
