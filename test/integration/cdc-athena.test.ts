import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dryRun, run, validate } from '../../src/pipeline/run.js';
import { IngestError } from '../../src/errors.js';
import type { PipelineEvent } from '../../src/pipeline/events.js';
import { expectAthenaEqualsSource } from '../helpers/athena-compare.js';
import { runCli } from '../helpers/cli.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { startLogicalCluster } from '../helpers/logical-cluster.js';
import type { PgCluster } from '../helpers/pg-cluster.js';
import type { TestDatabase } from '../helpers/postgres.js';
import { lsnValue as lsn } from '../../src/source/postgres/cdc/pgoutput-decoder.js';

/**
 * Change data capture on dev/prod (S3 + Glue + Iceberg through the executing Athena stand-in), from a private
 * PostgreSQL cluster with wal_level=logical: concurrent writers during a run (inserts, updates, deletes, a
 * transaction held open across runs, back-dated updated_at, a table without a cursor column, TRUNCATE, a key changed
 * with an unchanged TOASTed value), then a run that leaves every table equal to the source value by value; a kill
 * between the data's MERGE and state.json replays without duplicating anything.
 */

const DATASET = 'raw_cdc_dev';
const TABLES = ['orders', 'events', 'counters'];
const KEYS: Record<string, string> = { orders: 'id', events: 'id', counters: 'id' };
const raw = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
let cluster: PgCluster;
let db: TestDatabase;
let url: string;
let dir: string;
let lake: Lakehouse;

async function ingest(extra: Record<string, unknown> = {}): Promise<PipelineEvent[]> {
  const events: PipelineEvent[] = [];
  await run({ env: 'dev', dataset: DATASET, sourceUrl: url, tables: TABLES, cdc: true, schemaExport: false, ...extra }, { onEvent: (e) => events.push(e), env: lake.env(url) });
  return events;
}

/**
 * The gate's row_count on every CDC table passes: the destination's count equals the source's at the stream's end
 * point (the snapshot's count corrected by the transactions on either side of it), even with writers running. A
 * TRUNCATE between the end point and the snapshot makes the count underivable: then that table's check is skipped
 * and a note says why.
 */
function expectRowCountsExact(events: readonly PipelineEvent[]): void {
  const report = events.find((e) => e.type === 'quality_finished');
  expect(report).toBeDefined();
  const checks = report!.type === 'quality_finished' ? report!.report.checks.filter((c) => c.check === 'row_count') : [];
  expect(checks.map((c) => c.table).sort()).toEqual([...TABLES].sort());
  for (const c of checks) {
    const truncatedInWindow = events.some((e) => e.type === 'note' && e.message.includes(`${c.table} was truncated between the run's WAL end point and its snapshot`));
    if (truncatedInWindow) expect(c.status, c.message).toBe('skip');
    else expect({ table: c.table, status: c.status, observed: c.observed }, c.message).toEqual({ table: c.table, status: 'pass', observed: c.expected });
  }
}

async function expectAllEqual(label: string): Promise<void> {
  for (const table of TABLES) {
    const n = await expectAthenaEqualsSource(lake, db, DATASET, table, KEYS[table]!, `${label}: ${table}`);
    const [distinct] = await lake.athenaQuery(`SELECT count(DISTINCT "id") AS d FROM "${DATASET}"."${table}"`);
    expect(Number(distinct!.d), `${label}: ${table} keys unique`).toBe(n);
  }
}

async function storedLsn(): Promise<string> {
  const out = await lake.s3.send(new GetObjectCommand({ Bucket: 'lake', Key: `raw/${DATASET}/_ingesta/state.json` }));
  const state = JSON.parse(await out.Body!.transformToString()) as { tables: Record<string, { cursor?: { column: string; value: string } }> };
  const positions = new Set(TABLES.map((t) => state.tables[t]!.cursor!.value));
  expect(positions.size).toBe(1);
  expect(state.tables.orders!.cursor!.column).toMatch(/^cdc:ingesta_raw_cdc_dev_[0-9a-f]{12}$/);
  return [...positions][0]!;
}

async function confirmedLsn(): Promise<string> {
  return (await db.query(`SELECT confirmed_flush_lsn::text AS c FROM pg_replication_slots`))[0]!.c!;
}

beforeAll(async () => {
  cluster = await startLogicalCluster();
  await cluster.exec('CREATE DATABASE shop');
  url = cluster.url('postgres', undefined, 'shop');
  const client = new pg.Client({ connectionString: url, types: raw });
  await client.connect();
  await client.query("SET TimeZone = 'UTC'");
  db = { name: 'shop', url, client, query: async (sql: string, params?: unknown[]) => (await client.query(sql, params)).rows, drop: async () => undefined } as unknown as TestDatabase;
  await client.query(`CREATE TABLE orders (id int PRIMARY KEY, status text, amount numeric(10,2), updated_at timestamptz NOT NULL, doc text)`);
  await client.query(`ALTER TABLE orders ALTER COLUMN doc SET STORAGE EXTERNAL`);
  await client.query(`CREATE TABLE events (id bigint PRIMARY KEY, kind varchar(16), payload text)`);
  await client.query(`CREATE TABLE counters (id int PRIMARY KEY, n int)`);
  await client.query(
    `INSERT INTO orders SELECT g, 'new', g * 1.25, TIMESTAMPTZ '2024-01-01 00:00:00.123456+00' + g * INTERVAL '1 minute', CASE WHEN g % 10 = 0 THEN repeat('d', 4000) || g ELSE 'short ' || g END FROM generate_series(1, 200) g`,
  );
  await client.query(`INSERT INTO events SELECT g, 'k' || (g % 3), 'payload ' || g FROM generate_series(1, 100) g`);
  await client.query(`INSERT INTO counters SELECT g, g FROM generate_series(1, 20) g`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-cdc-athena-'));
  lake = await startLakehouse(dir);
}, 120_000);

afterAll(async () => {
  await (db?.client as pg.Client | undefined)?.end().catch(() => undefined);
  await lake?.stop();
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Row 2 is the held-open transaction's: a writer touching it would wait for that transaction, which waits for the writers. */
const other = (id: number) => (id === 2 ? 3 : id);

/** Writes until stopped: inserts, updates (some back-dated), deletes, a key change of a TOASTed row, TRUNCATE. */
function startWriters(): { stop: () => Promise<{ rounds: number; truncates: number }> } {
  let stopped = false;
  let rounds = 0;
  let truncates = 0;
  const writer = new pg.Client({ connectionString: url });
  let failure: unknown;
  const done = (async () => {
    await writer.connect();
    for (let i = 0; !stopped; i += 1) {
      const id = 1000 + i;
      await writer.query(`INSERT INTO orders VALUES ($1::int, 'new', 9.99, now(), repeat('t', 3000) || $1::int)`, [id]);
      await writer.query(`UPDATE orders SET status = 'paid', amount = amount + 1, updated_at = now() WHERE id = $1`, [other(1 + ((i * 7) % 200))]);
      // back-dated: a cursor would never see it
      await writer.query(`UPDATE orders SET status = 'backdated', updated_at = TIMESTAMPTZ '2001-01-01 00:00:00+00' WHERE id = $1`, [other(1 + ((i * 13) % 200))]);
      await writer.query(`DELETE FROM orders WHERE id = $1`, [other(1 + ((i * 17 + 3) % 200))]);
      // a TOASTed value left unchanged by an update (sent as "unchanged"), then a key change of such a row
      await writer.query(`UPDATE orders SET status = 'toast ' || $2::int WHERE id = $1::int AND doc LIKE 'ddd%'`, [10 * (1 + (i % 20)), i]);
      if (i % 5 === 0) await writer.query(`UPDATE orders SET id = id + 100000, status = 'moved' WHERE id = $1 AND doc LIKE 'ddd%'`, [10 * (1 + (i % 20))]);
      // a table without a cursor column
      await writer.query(`INSERT INTO events VALUES ($1::bigint, 'late', 'w' || $1::bigint)`, [5000 + i]);
      await writer.query(`UPDATE events SET payload = payload || '+' WHERE id = $1`, [1 + (i % 100)]);
      await writer.query(`DELETE FROM events WHERE id = $1`, [1 + ((i * 3 + 1) % 100)]);
      if (i % 4 === 0) {
        // a TRUNCATE queued behind the run's ACCESS SHARE lock would make the run's second reader queue behind it
        // (the documented lock-timeout case, README "least privilege"): it gives up after 50 ms and comes back later
        await writer.query(`BEGIN`);
        await writer.query(`SET LOCAL lock_timeout = '50ms'`);
        try {
          await writer.query(`TRUNCATE counters`);
          await writer.query(`INSERT INTO counters SELECT g, g * $1::int FROM generate_series(1, 5) g`, [i]);
          await writer.query(`COMMIT`);
          truncates += 1;
        } catch {
          await writer.query(`ROLLBACK`);
        }
      } else {
        await writer.query(`INSERT INTO counters VALUES ($1, 0) ON CONFLICT (id) DO UPDATE SET n = counters.n + 1`, [1 + (i % 8)]);
      }
      rounds += 1;
      await new Promise((r) => setTimeout(r, 5));
    }
  })().catch((error: unknown) => {
    failure = error;
  });
  return {
    stop: async () => {
      stopped = true;
      await done;
      await writer.end();
      if (failure) throw failure;
      return { rounds, truncates };
    },
  };
}

describe('change data capture on --env dev: MERGE with deletes into Iceberg, state after data', () => {
  it('first run loads from the slot snapshot; with concurrent writers and a transaction held open across runs, the run after they stop leaves every table equal to the source', async () => {
    // --dry-run shows CDC tables as CDC: the slot it would create; nothing is created
    const options = { env: 'dev', dataset: DATASET, sourceUrl: url, tables: TABLES, cdc: true } as const;
    const before = (await dryRun(options, { env: lake.env(url) })).tables.find((t) => t.table === 'orders')!;
    expect(before).toMatchObject({ mode: 'full', cdc: { reason: 'first run', storedLsn: null, confirmedLsn: null } });
    expect(before.steps[0]).toMatch(/^change data capture: first run; replication slot ingesta_raw_cdc_dev_[0-9a-f]{12} \(pgoutput\) is created with an exported snapshot/);
    expect(Number((await db.query(`SELECT count(*)::int AS n FROM pg_replication_slots`))[0]!.n)).toBe(0);

    const first = await ingest();
    expect(first.some((e) => e.type === 'warning' && /first run; replication slot .* load in full from its snapshot/.test(e.message))).toBe(true);
    await expectAllEqual('first run');

    // later: the stored LSN, the slot's position, the WAL to decode, the peek and the MERGE with deletes; nothing consumed
    await db.query(`UPDATE events SET kind = 'dry' WHERE id = 3`);
    const [stored, confirmed] = [await storedLsn(), await confirmedLsn()];
    const later = (await dryRun(options, { env: lake.env(url) })).tables.find((t) => t.table === 'orders')!;
    expect(later).toMatchObject({ mode: 'incremental', cursor: { from: stored }, cdc: { storedLsn: stored, confirmedLsn: confirmed, reason: null } });
    expect(Number(later.cdc!.pendingWalBytes)).toBeGreaterThan(0);
    expect(later.select).toMatch(/^SELECT encode\(data, 'hex'\) FROM pg_logical_slot_peek_binary_changes\('ingesta_raw_cdc_dev_[0-9a-f]{12}', '[0-9A-F]+\/[0-9A-F]+'::pg_lsn/);
    expect(later.steps.join('\n')).toMatch(/bytes of WAL to decode[\s\S]*MERGE INTO "raw_cdc_dev"\."orders" AS t .* WHEN MATCHED AND s\."_ingesta_op" = 'D' THEN DELETE/);
    expect([await storedLsn(), await confirmedLsn()]).toEqual([stored, confirmed]);

    // a transaction held open across the next run: committed (with an older LSN than later writers' commits) afterwards
    const held = new pg.Client({ connectionString: url });
    await held.connect();
    await held.query(`BEGIN`);
    await held.query(`UPDATE orders SET status = 'held', updated_at = TIMESTAMPTZ '2000-01-01 00:00:00+00' WHERE id = 2`);
    await held.query(`INSERT INTO events VALUES (9999, 'held', 'held open')`);

    const writers = startWriters();
    await new Promise((r) => setTimeout(r, 300));
    const during = await ingest({ validate: true });
    const { rounds, truncates } = await writers.stop();
    expectRowCountsExact(during);
    expect(rounds).toBeGreaterThan(3);
    expect(truncates).toBeGreaterThan(0);
    expect(during.some((e) => e.type === 'note' && /change data capture: \d+ transactions, \d+ changes/.test(e.message))).toBe(true);
    await held.query(`COMMIT`);
    await held.end();
    const sql = lake.aws.statements.filter((s) => /^MERGE INTO "raw_cdc_dev"\."orders"/.test(s)).at(-1)!;
    expect(sql).toMatch(/WHEN MATCHED AND s\."_ingesta_op" = 'D' THEN DELETE WHEN MATCHED THEN UPDATE SET .* WHEN NOT MATCHED AND s\."_ingesta_op" <> 'D' THEN INSERT/);
    // a key changed with its TOASTed doc unchanged: the doc comes from the old key's row, inside the MERGE's source
    const unresolved = () => lake.aws.statements.some((s) => /^MERGE INTO "raw_cdc_dev"\."orders" .*LEFT JOIN "raw_cdc_dev"\."orders" AS o/.test(s));

    expectRowCountsExact(await ingest({ validate: true }));
    await expectAllEqual('after the writers stopped');
    expect(unresolved()).toBe(true);
    const [held2] = await lake.athenaQuery(`SELECT status FROM "${DATASET}"."orders" WHERE "id" = 2`);
    expect(held2!.status).toBe('held');
    // the slot is confirmed up to what the destination holds, never past it
    expect(lsn(await confirmedLsn()) <= lsn(await storedLsn())).toBe(true);
  }, 60_000);

  it('row_count is exact at the LSN: a transaction committed between the run\'s WAL end point and its snapshot is in the snapshot\'s count, not in the destination', async () => {
    // the transaction holds an ACCESS EXCLUSIVE lock on events: the run reads its WAL end point, then waits in its
    // LOCK TABLE for it; it commits once the run waits, so the run's snapshot sees it and the stream stops before it
    const late = new pg.Client({ connectionString: url });
    await late.connect();
    await late.query(`BEGIN`);
    await late.query(`INSERT INTO orders VALUES (5000, 'late', 1, now(), 'l'), (5001, 'late', 1, now(), 'l')`);
    await late.query(`DELETE FROM events WHERE id = (SELECT min(id) FROM events)`);
    await late.query(`LOCK TABLE events IN ACCESS EXCLUSIVE MODE`);
    const running = ingest({ validate: true });
    for (let i = 0; i < 400; i += 1) {
      const [w] = await db.query(`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'events' AND NOT l.granted`);
      if (Number(w!.n) > 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    await late.query(`COMMIT`);
    await late.end();
    const events = await running;
    const rowCount = (table: string) => {
      const report = events.find((e) => e.type === 'quality_finished');
      return report?.type === 'quality_finished' ? report.report.checks.find((c) => c.check === 'row_count' && c.table === table) : undefined;
    };
    const [orders] = await db.query(`SELECT count(*)::int AS n FROM orders`);
    // the destination holds the source as of the end point: two rows fewer in orders, one more in events
    expect(rowCount('orders')).toMatchObject({ status: 'pass', observed: Number(orders!.n) - 2, expected: Number(orders!.n) - 2 });
    const [ev] = await db.query(`SELECT count(*)::int AS n FROM events`);
    expect(rowCount('events')).toMatchObject({ status: 'pass', observed: Number(ev!.n) + 1, expected: Number(ev!.n) + 1 });
    // the next run brings the late transaction
    expectRowCountsExact(await ingest({ validate: true }));
    await expectAllEqual('after the late transaction');

    // --solo-validar: the source counted at the stored LSN (what changed since is decoded from the slot, not consumed)
    await db.query(`INSERT INTO orders VALUES (5002, 'after', 1, now(), 'a'), (5003, 'after', 1, now(), 'a'), (5004, 'after', 1, now(), 'a')`);
    await db.query(`DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT 2)`);
    const confirmed = await confirmedLsn();
    const gate = await validate({ env: 'dev', dataset: DATASET, sourceUrl: url, tables: TABLES }, { env: lake.env(url) });
    for (const table of TABLES) {
      const c = gate.checks.find((x) => x.check === 'row_count' && x.table === table)!;
      expect({ table, status: c.status, observed: c.observed }, c.message).toEqual({ table, status: 'pass', observed: c.expected });
    }
    expect(await confirmedLsn()).toBe(confirmed);
  }, 60_000);

  it('a kill after the MERGE, before state.json: data ahead of state, the slot not confirmed; the next run replays without duplicates', async () => {
    const before = await storedLsn();
    await db.query(`INSERT INTO orders SELECT g, 'crash', 1, now(), 'c' FROM generate_series(3000, 3019) g`);
    await db.query(`UPDATE orders SET amount = amount * 2, updated_at = now() WHERE id BETWEEN 3000 AND 3009`);
    await db.query(`DELETE FROM orders WHERE id IN (3010, 3011)`);
    await db.query(`INSERT INTO events VALUES (7000, 'crash', 'x')`);
    // a value over DuckDB's default CSV line size (2 MB): the change file is read again with a line limit
    await db.query(`UPDATE orders SET doc = repeat('L', 2500000) || id WHERE id = (SELECT min(id) FROM orders WHERE id > 3)`);
    // a key change of a row whose TOASTed doc is not sent: on the replay the old key is gone already (the MERGE ran)
    const [moved] = await db.query(`SELECT min(id)::int AS id FROM orders WHERE doc LIKE 'ddd%'`);
    await db.query(`UPDATE orders SET id = 4000, status = 'moved before the crash' WHERE id = $1`, [moved!.id]);
    await db.query(`DELETE FROM events WHERE id = 7000`);
    const killed = await runCli(['--env', 'dev', '--dataset', DATASET, '--tables', TABLES.join(','), '--cdc', '--no-schema-export'], {
      ...lake.env(url),
      INGESTA_CRASH_AT: 'before-commit',
      INGESTA_LOCK_STALE_AFTER: '8s',
    });
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    // the data is in (the MERGE committed), state.json and the slot are not
    const [crashed] = await lake.athenaQuery(`SELECT count(*) AS n FROM "${DATASET}"."orders" WHERE "status" = 'crash'`);
    expect(Number(crashed!.n)).toBe(18);
    expect(await storedLsn()).toBe(before);
    const [doc] = await lake.athenaQuery(`SELECT length("doc") AS n FROM "${DATASET}"."orders" WHERE "id" = 4000`);
    expect(Number(doc!.n)).toBeGreaterThan(4000);
    expect(lsn(await confirmedLsn()) <= lsn(before)).toBe(true);

    await db.query(`UPDATE orders SET status = 'after' WHERE id = 3000`);
    // the killed run's lock is taken over once stale (1 s here)
    await new Promise((r) => setTimeout(r, 1500));
    await run({ env: 'dev', dataset: DATASET, sourceUrl: url, tables: TABLES, cdc: true, schemaExport: false }, { env: { ...lake.env(url), INGESTA_LOCK_STALE_AFTER: '1s' } });
    await expectAllEqual('after the replay');
    expect(lsn(await storedLsn()) > lsn(before)).toBe(true);
    expect(lsn(await confirmedLsn()) <= lsn(await storedLsn())).toBe(true);
  }, 60_000);

  it('schema changes as relation messages: a column added with a DEFAULT is backfilled, int → bigint, varchar(n) → text and numeric precision up are widened, later changes carry the new column; --dry-run lists the backfill (regression: missing from a CDC table\'s steps)', async () => {
    // a change sent with the old relation (before the ALTERs): the new columns are not in it
    await db.query(`UPDATE orders SET status = 'before the alter' WHERE id = (SELECT min(id) FROM orders WHERE id > 3)`);
    // a DEFAULT writes no row change for the existing rows: they are backfilled from the run's snapshot
    await db.query(`ALTER TABLE orders ADD COLUMN region text DEFAULT 'eu'`);
    await db.query(`ALTER TABLE orders ADD COLUMN qty int`);
    await db.query(`INSERT INTO orders VALUES (6000, 'new columns', 1, now(), 'n', 'us', 7)`);
    await db.query(`ALTER TABLE orders ALTER COLUMN amount TYPE numeric(14,2)`);
    await db.query(`UPDATE orders SET amount = 123456789012.34 WHERE id = 6000`);
    await db.query(`ALTER TABLE counters ALTER COLUMN n TYPE bigint`);
    await db.query(`INSERT INTO counters VALUES (60, 9000000000)`);
    await db.query(`ALTER TABLE events ALTER COLUMN kind TYPE text`);
    await db.query(`INSERT INTO events VALUES (6000, repeat('k', 40), 'longer than varchar(16)')`);
    // --dry-run says so (regression: a CDC table's backfill of new columns was missing from its steps)
    const planned = (await dryRun({ env: 'dev', dataset: DATASET, sourceUrl: url, tables: TABLES, cdc: true }, { env: lake.env(url) })).tables.find((t) => t.table === 'orders')!;
    expect(planned.steps.join('\n')).toMatch(/bytes of WAL to decode.*\nbackfill: COPY id with region, qty \(new in the source\) .*\n[\s\S]*MERGE INTO "raw_cdc_dev"\."orders"/);
    const events = await ingest();
    expect(events.some((e) => e.type === 'table_backfilled' && e.table === 'orders' && e.columns.includes('region'))).toBe(true);
    expect(events.filter((e) => e.type === 'table_loaded').map((e) => e.type === 'table_loaded' && e.mode)).toEqual(['incremental', 'incremental', 'incremental']);
    await expectAllEqual('after the schema changes');
    const [unfilled] = await lake.athenaQuery(`SELECT count(*) AS n FROM "${DATASET}"."orders" WHERE "region" IS NULL`);
    expect(Number(unfilled!.n)).toBe(0);
    const typeOf = (table: string, column: string) => lake.aws.tables.get(`${DATASET}.${table}`)!.columns.find((c) => c.name === column)?.type;
    expect([typeOf('orders', 'amount'), typeOf('orders', 'qty'), typeOf('counters', 'n'), typeOf('events', 'kind')]).toEqual(['decimal(14,2)', 'int', 'bigint', 'string']);
    expect(lake.aws.statements.some((s) => /^ALTER TABLE .*orders.* ADD COLUMNS \(.*region.* string, .*qty.* int\)/.test(s))).toBe(true);
    expect(lake.aws.statements.some((s) => /^ALTER TABLE .*counters.* CHANGE COLUMN .*n.* bigint/.test(s))).toBe(true);

    // later changes carry the new columns
    await db.query(`UPDATE orders SET region = 'apac', qty = 3 WHERE id = 6000`);
    await db.query(`INSERT INTO orders VALUES (6001, 'later', 2, now(), 'l', NULL, 8)`);
    await db.query(`UPDATE counters SET n = n + 1 WHERE id = 60`);
    // a DEFAULT column on a table with no change in the run: added and backfilled all the same
    await db.query(`ALTER TABLE events ADD COLUMN origin text DEFAULT 'pg'`);
    await ingest();
    await expectAllEqual('changes after the schema changes');
    const [origins] = await lake.athenaQuery(`SELECT count(*) AS n FROM "${DATASET}"."events" WHERE "origin" = 'pg'`);
    expect(Number(origins!.n)).toBeGreaterThan(0);
  }, 30_000);

  it('a type change CDC cannot follow is refused as on a non-CDC merge table (same message, same exit code); --full-refresh of a CDC table recreates the slot with a new snapshot and reloads every CDC table in full', async () => {
    // the same change on a cursor-based merge table of another dataset: what dev/prod says today
    await db.query(`CREATE TABLE gauges (id int PRIMARY KEY, n bigint, updated_at timestamptz NOT NULL DEFAULT now())`);
    await db.query(`INSERT INTO gauges SELECT g, g FROM generate_series(55, 60) g`);
    const catalog = path.join(dir, 'gauges.yaml');
    writeFileSync(catalog, `version: 1\ntables:\n  gauges:\n    primary_key: [id]\n    write_disposition: merge\n    incremental: { cursor_column: updated_at }\n`);
    const cursorRun = () => run({ env: 'dev', dataset: 'raw_cursor_dev', sourceUrl: url, catalog, tables: ['gauges'], schemaExport: false }, { env: lake.env(url) });
    await cursorRun();
    await db.query(`ALTER TABLE gauges ALTER COLUMN n TYPE text`);
    await db.query(`UPDATE gauges SET n = 'many', updated_at = now() WHERE id = 60`);
    await db.query(`ALTER TABLE counters ALTER COLUMN n TYPE text`);
    await db.query(`UPDATE counters SET n = 'many' WHERE id = 60`);
    const refused = async (go: () => Promise<unknown>) => {
      const error = await go().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(IngestError);
      return error as IngestError;
    };
    const cursorError = await refused(cursorRun);
    const [stored, confirmed] = [await storedLsn(), await confirmedLsn()];
    const cdcError = await refused(() => ingest());
    expect(cdcError.exitCode).toBe(4);
    expect(cdcError.message).toMatch(/^Table counters, column n: the row with key \(60\) holds a value that does not fit the column's type bigint .*--full-refresh counters\.$/);
    expect({ name: cdcError.name, exitCode: cdcError.exitCode, message: cdcError.message.replaceAll('counters', 'gauges') }).toEqual({
      name: cursorError.name, exitCode: cursorError.exitCode, message: cursorError.message,
    });
    // nothing written: state and slot where they were, the row as it was
    expect([await storedLsn(), await confirmedLsn()]).toEqual([stored, confirmed]);
    const [kept] = await lake.athenaQuery(`SELECT "n" FROM "${DATASET}"."counters" WHERE "id" = 60`);
    expect(kept!.n).toBe('9000000001');

    // --full-refresh of counters: the slot is recreated, every CDC table reloaded in full from its snapshot (a row the
    // destination lost comes back: nothing is streamed from a stale position), counters rebuilt with the new type
    await lake.athenaQuery(`DELETE FROM "${DATASET}"."events" WHERE "id" = 6000`);
    await db.query(`UPDATE orders SET status = 'refreshed' WHERE id = 6001`);
    const events = await ingest({ fullRefresh: ['counters'] });
    expect(events.some((e) => e.type === 'warning' && /--full-refresh of counters; replication slot ingesta_raw_cdc_dev_[0-9a-f]{12} is \(re\)created and orders, events, counters load in full/.test(e.message))).toBe(true);
    expect(events.filter((e) => e.type === 'table_loaded').map((e) => e.type === 'table_loaded' && e.mode)).toEqual(['full', 'full', 'full']);
    expect(lake.aws.tables.get(`${DATASET}.counters`)!.columns.find((c) => c.name === 'n')!.type).toBe('string');
    await expectAllEqual('after --full-refresh counters');
    expect(lsn(await storedLsn()) > lsn(stored)).toBe(true);
    expect(await confirmedLsn()).toBe(await storedLsn());
  }, 30_000);

  it('a lost state (state.json deleted) recreates the slot with a new snapshot and reloads in full, never a silent skip; the run after streams again', async () => {
    const stored = await storedLsn();
    await lake.s3.send(new DeleteObjectCommand({ Bucket: 'lake', Key: `raw/${DATASET}/_ingesta/state.json` }));
    await lake.athenaQuery(`DELETE FROM "${DATASET}"."orders" WHERE "id" = 6000`);
    await db.query(`UPDATE orders SET status = 'while the state was gone' WHERE id = 6001`);
    const events = await ingest();
    expect(events.some((e) => e.type === 'warning' && /holds no change data capture state for orders .*\(re\)created and orders, events, counters load in full/.test(e.message))).toBe(true);
    expect(events.filter((e) => e.type === 'table_loaded').map((e) => e.type === 'table_loaded' && e.mode)).toEqual(['full', 'full', 'full']);
    await expectAllEqual('after the lost state');
    expect(lsn(await storedLsn()) > lsn(stored)).toBe(true);
    await db.query(`DELETE FROM orders WHERE id = 6001`);
    await db.query(`UPDATE counters SET n = 'again' WHERE id = 60`);
    const next = await ingest();
    expect(next.filter((e) => e.type === 'table_loaded').map((e) => e.type === 'table_loaded' && e.mode)).toEqual(['incremental', 'incremental', 'incremental']);
    await expectAllEqual('streaming after the lost state');
  }, 30_000);

  it('an incompatible type change of a CDC table (text → integer) is refused by the schema check as a merge table\'s (regression: warned "rebuilt with the new type", then merged into the old column); its --full-refresh rebuilds the column as int (regression: the values fitted the old string column, which stayed)', async () => {
    const catalog = path.join(dir, 'gauges.yaml');
    const cursorRun = (extra: Record<string, unknown> = {}) =>
      run({ env: 'dev', dataset: 'raw_cursor_dev', sourceUrl: url, catalog, tables: ['gauges'], schemaExport: false, ...extra }, { env: lake.env(url) });
    // the cursor table follows its text column first (it was refused above), as counters did
    await cursorRun({ fullRefresh: ['gauges'] });
    await db.query(`ALTER TABLE gauges ALTER COLUMN n TYPE int USING length(n)`);
    await db.query(`UPDATE gauges SET n = 1, updated_at = now() WHERE id = 60`);
    await db.query(`ALTER TABLE counters ALTER COLUMN n TYPE int USING length(n)`);
    await db.query(`UPDATE counters SET n = 1 WHERE id = 60`);
    const refused = async (go: () => Promise<unknown>) => {
      const error = await go().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(IngestError);
      return error as IngestError;
    };
    const cursorError = await refused(() => cursorRun());
    const [stored, confirmed] = [await storedLsn(), await confirmedLsn()];
    const cdcError = await refused(() => ingest());
    expect({ exitCode: cdcError.exitCode, message: cdcError.message }).toEqual({
      exitCode: 4,
      message: 'Incompatible schema change: counters: column n changes from VARCHAR to INTEGER, which cannot hold every old value: run with --full-refresh counters. Nothing was written.',
    });
    expect({ name: cdcError.name, exitCode: cdcError.exitCode, message: cdcError.message.replaceAll('counters', 'gauges') }).toEqual({
      name: cursorError.name, exitCode: cursorError.exitCode, message: cursorError.message,
    });
    expect([await storedLsn(), await confirmedLsn()]).toEqual([stored, confirmed]);
    expect(lake.aws.tables.get(`${DATASET}.counters`)!.columns.find((c) => c.name === 'n')!.type).toBe('string');

    // what the message says: --full-refresh counters rebuilds it with the new type (every CDC table reloads in full)
    await ingest({ fullRefresh: ['counters'] });
    expect(lake.aws.tables.get(`${DATASET}.counters`)!.columns.find((c) => c.name === 'n')!.type).toBe('int');
    await expectAllEqual('after --full-refresh counters');
  }, 30_000);
});
