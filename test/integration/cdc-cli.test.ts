import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckQuery } from '../helpers/duckdb.js';
import { startLogicalCluster } from '../helpers/logical-cluster.js';
import type { PgCluster } from '../helpers/pg-cluster.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { lsnValue as lsn } from '../../src/source/postgres/cdc/pgoutput-decoder.js';

const DATASET = 'raw_cdc_cli';
const raw = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;
let cluster: PgCluster;
let client: pg.Client;
let url: string;
let dir: string;
let duckdbPath: string;

const ingest = (env: Record<string, string> = {}, ...args: string[]) =>
  runCli(['--env', 'local', '--duckdb-path', duckdbPath, '--dataset', DATASET, '--tables', 'orders', '--cdc', '--no-schema-export', ...args], { DATABASE_URL: url, ...env });

async function slot(): Promise<{ slot_name: string; confirmed: string } | undefined> {
  return (await client.query(`SELECT slot_name, confirmed_flush_lsn::text AS confirmed FROM pg_replication_slots`)).rows[0];
}

async function destination(): Promise<{ rows: number; distinct: number; sum: string; lsn: string }> {
  const [r] = await duckQuery(duckdbPath, `SELECT count(*)::INT AS n, count(DISTINCT id)::INT AS d, sum(qty)::VARCHAR AS s FROM ${DATASET}.orders`);
  const [s] = await duckQuery(duckdbPath, `SELECT cursor_value FROM ${DATASET}._ingesta_state WHERE table_name = 'orders'`);
  return { rows: Number(r!.n), distinct: Number(r!.d), sum: String(r!.s), lsn: String(s!.cursor_value) };
}

async function source(): Promise<{ rows: number; sum: string }> {
  const { rows } = await client.query(`SELECT count(*)::int AS n, sum(qty)::text AS s FROM orders`);
  return { rows: Number(rows[0].n), sum: String(rows[0].s) };
}

beforeAll(async () => {
  cluster = await startLogicalCluster();
  await cluster.exec('CREATE DATABASE shop');
  url = cluster.url('postgres', undefined, 'shop');
  client = new pg.Client({ connectionString: url, types: raw });
  await client.connect();
  await client.query(`CREATE TABLE orders (id int PRIMARY KEY, qty int NOT NULL, note text)`);
  await client.query(`INSERT INTO orders SELECT g, g, 'n' FROM generate_series(1, 200) g`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-cdc-cli-'));
  duckdbPath = path.join(dir, 'cdc.duckdb');
}, 120_000);

afterAll(async () => {
  await client?.end().catch(() => undefined);
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('change data capture from the command line', () => {
  it('a source with wal_level=replica (the machine cluster) is refused with exit 3 and one line saying what is missing', async () => {
    let db: TestDatabase | undefined;
    try {
      db = await createTestDatabase('ingesta_cdc');
      await db.query('CREATE TABLE orders (id int PRIMARY KEY, qty int)');
      const r = await runCli(['--env', 'local', '--duckdb-path', path.join(dir, 'replica.duckdb'), '--tables', 'orders', '--cdc'], { DATABASE_URL: db.url });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/needs wal_level=logical on the source, which runs wal_level=replica/);
    } finally {
      await db?.drop();
    }
  });

  it('a role without REPLICATION, and a keyless table without REPLICA IDENTITY FULL, are refused with exit 3 before anything runs', async () => {
    await client.query(`CREATE ROLE plain LOGIN`);
    await client.query(`GRANT SELECT ON orders TO plain`);
    const noRole = await runCli(['--env', 'local', '--duckdb-path', path.join(dir, 'x.duckdb'), '--tables', 'orders', '--cdc'], { DATABASE_URL: cluster.url('plain', undefined, 'shop') });
    expect(noRole.code, noRole.stderr).toBe(3);
    expect(noRole.stderr).toMatch(/needs a role with the REPLICATION attribute; user plain has none: ALTER ROLE "plain" REPLICATION/);

    await client.query(`CREATE TABLE loose (a int, b text)`);
    const keyless = await runCli(['--env', 'local', '--duckdb-path', path.join(dir, 'x.duckdb'), '--tables', 'loose', '--cdc'], { DATABASE_URL: url });
    expect(keyless.code, keyless.stderr).toBe(3);
    expect(keyless.stderr).toMatch(/public\.loose has no primary key.*ALTER TABLE "?public"?\."?loose"? REPLICA IDENTITY FULL/);
    expect(Number((await client.query(`SELECT count(*)::int AS n FROM pg_replication_slots`)).rows[0].n)).toBe(0);
  });

  it('a kill between the commit and the slot confirmation replays without duplicates; the slot is never confirmed past committed data', async () => {
    const first = await ingest();
    expect(first.code, first.stderr).toBe(0);
    expect(await destination()).toMatchObject({ rows: 200, distinct: 200 });

    await client.query(`UPDATE orders SET qty = qty + 1000 WHERE id <= 10`);
    await client.query(`INSERT INTO orders SELECT g, g, 'new' FROM generate_series(201, 220) g`);
    await client.query(`DELETE FROM orders WHERE id BETWEEN 11 AND 15`);
    const killed = await ingest({ INGESTA_CRASH_AT: 'after-commit' });
    expect(killed.signal).toBe('SIGKILL');
    const afterKill = await destination();
    expect(afterKill).toMatchObject({ rows: 215, distinct: 215, sum: (await source()).sum });
    // committed but not confirmed: the slot is behind the destination
    expect(lsn((await slot())!.confirmed) < lsn(afterKill.lsn)).toBe(true);

    await client.query(`UPDATE orders SET qty = qty + 1 WHERE id = 1`);
    // the quality gate works unchanged on a CDC table; row_count is exact at the LSN, also on a replay
    const replay = await ingest({}, '-v', '--validar-calidad-datos');
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/row_count\b.*orders.*as in the source|orders.*row_count.*as in the source/);
    expect(replay.stdout).toMatch(/transactions already applied were skipped/);
    const after = await destination();
    expect(after).toMatchObject({ rows: (await source()).rows, distinct: (await source()).rows, sum: (await source()).sum });
    expect(lsn((await slot())!.confirmed) <= lsn(after.lsn)).toBe(true);
  });

  it('--dry-run shows a CDC table as CDC (slot, stored LSN, WAL to decode, the peek, the apply) and consumes nothing', async () => {
    await client.query(`UPDATE orders SET qty = qty + 1 WHERE id = 2`);
    const [stored, confirmed] = [(await destination()).lsn, (await slot())!.confirmed];
    const r = await ingest({}, '--dry-run');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`orders: incremental cdc:ingesta_raw_cdc_cli_`);
    expect(r.stdout).toContain(` from ${stored} to `);
    expect(r.stdout).toMatch(/read: +COPY \(SELECT encode\(data, 'hex'\) FROM pg_logical_slot_peek_binary_changes\('ingesta_raw_cdc_cli_[0-9a-f]{12}'/);
    expect(r.stdout).toMatch(/change data capture: the committed changes from [0-9A-F]+\/[0-9A-F]+ to the WAL position at the run's start \([0-9A-F]+\/[0-9A-F]+ now; \d+ bytes of WAL to decode/);
    expect(r.stdout).toMatch(/then: +apply the changes in commit order .*per key the last change wins/);
    expect([(await destination()).lsn, (await slot())!.confirmed]).toEqual([stored, confirmed]);
  });

  it('status shows the slot lag and WAL retained, warns above INGESTA_CDC_WAL_WARNING; cdc drop removes slot and publication; the next run reloads in full', async () => {
    await client.query(`UPDATE orders SET note = 'pending' WHERE id < 50`);
    const status = await runCli(['status', '--env', 'local', '--duckdb-path', duckdbPath, '--dataset', DATASET], { DATABASE_URL: url, INGESTA_CDC_WAL_WARNING: '1KB' });
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/cdc slot ingesta_raw_cdc_cli_[0-9a-f]{12}: confirmed [0-9A-F]+\/[0-9A-F]+, lag [\d.]+ (B|KB|MB), oldest unconfirmed transaction 20\d\d-/);
    expect(status.stdout + status.stderr).toMatch(/keeps \d+ bytes of WAL on the source \(more than 1024\)/);

    const drop = await runCli(['cdc', 'drop', '--env', 'local', '--duckdb-path', duckdbPath, '--dataset', DATASET], { DATABASE_URL: url });
    expect(drop.code, drop.stderr).toBe(0);
    expect(drop.stdout).toMatch(/dropped replication slot ingesta_raw_cdc_cli_\w+ and publication/);
    expect(await slot()).toBeUndefined();
    expect(Number((await client.query(`SELECT count(*)::int AS n FROM pg_publication`)).rows[0].n)).toBe(0);

    const again = await ingest();
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout + again.stderr).toMatch(/no longer exists in the source.*load in full from its snapshot/);
    expect(await destination()).toMatchObject({ rows: (await source()).rows, sum: (await source()).sum });
    expect(await slot()).toBeDefined();
  });
});
