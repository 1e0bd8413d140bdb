import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATAVISION_TABLES } from '../../src/demo/datavision-generator.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { KEYS, RELATIONSHIPS } from '../helpers/datavision.js';
import { duckQuery, expectTablesEqualSource } from '../helpers/duckdb.js';
import { connect, createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { localPackageRoot } from '../helpers/packages.js';

/**
 * Concurrent writers (issue #8, "prove nothing is lost"): while ingesta runs, one writer commits transactions as fast
 * as it can, each inserting, updating and deleting across the 8 related DataVision tables and logging its sequence
 * number in chaos_log, which ingesta extracts in the same snapshot. Every statement is computed in JS (timestamps as
 * literals), so the same transactions replayed in order on an identical copy of the seed reproduce the source at any
 * point. After each run: read the highest sequence in the destination's chaos_log (M), replay 1..M on the replay
 * database, and every destination table must equal it: the source exactly at the extraction snapshot, with every
 * relationship holding.
 */

const DATASET = 'raw_datavision_local';
const ACCOUNTS = 2000;
const ANCHOR = '2026-01-15 12:00:00';
const TABLES = [...DATAVISION_TABLES, 'chaos_log'];
const KEY: Record<string, string> = { ...KEYS, chaos_log: 'seq' };

let db: TestDatabase;
let replay: TestDatabase;
let dir: string;
let duckdbPath: string;
let proxy: TcpProxy;

const ingest = (url: string, ...args: string[]) =>
  runCli(['--env', 'local', '--duckdb-path', duckdbPath, '--source-url', url, '--tables', ...TABLES, ...args]);

/** UTC wall time with microseconds, as a PostgreSQL timestamp literal. */
function timestampLiteral(micros: bigint): string {
  const ms = Number(micros / 1000n);
  const iso = new Date(ms).toISOString(); // 2026-11-27T23:30:00.123Z
  return `'${iso.slice(0, 19).replace('T', ' ')}.${String(micros % 1000000n).padStart(6, '0')}'::timestamp`;
}

/**
 * Generates transaction i (1-based) as one SQL string. Deterministic in i and the clock value it was given; it never
 * fails on a state produced by transactions 1..i-1 (only its own earlier rows are deleted, parents after children).
 */
class Writer {
  readonly transactions: string[] = [];
  committed = 0;
  private lastMicros = 0n;
  private stopping = false;
  private loop: Promise<void> | undefined;
  /** Deletes on the incremental tables (contents, content_attributes): only a full load sees them (README). */
  incrementalDeletes = true;

  constructor(private readonly client: pg.Client) {}

  private nextTimestamp(): string {
    const now = BigInt(Date.now()) * 1000n;
    this.lastMicros = now > this.lastMicros ? now : this.lastMicros + 1n;
    return timestampLiteral(this.lastMicros);
  }

  generate(i: number): string {
    const ts = this.nextTimestamp();
    const k = 100_000 + i;
    const s: string[] = [`INSERT INTO chaos_log VALUES (${i}, ${ts})`];
    switch (i % 6) {
      case 0: // a new account with its subscription, a payment and a premium feature (deleted again by i + 2, half the time)
        s.push(
          `INSERT INTO accounts VALUES (${k}, 'writer ${i}', 'w${i}@example.com', ${ts}::timestamptz, ${ts})`,
          `INSERT INTO accounts_subscription VALUES (${k}, ${k}, ${1 + (i % 6)}, DATE '2026-01-01', NULL, ${ts}, ${ts})`,
          `INSERT INTO subscription_payments VALUES (${k}, ${k}, ${ts}::timestamptz, ${i % 1000}.${String(i % 100).padStart(2, '0')}, 'PayPal', 'Mensual')`,
          `INSERT INTO account_premium_features VALUES (${k}, ${k}, ${1 + (i % 12)}, ${ts}, 1.99)`,
        );
        break;
      case 1: // updates on parents and on the incremental tables
        s.push(
          `UPDATE accounts SET account_name = 'renamed ${i}', updated_at = ${ts} WHERE account_id % 97 = ${i % 97}`,
          `UPDATE contents SET title = 'title ${i}', updated_at = ${ts} WHERE content_id % 211 = ${i % 211}`,
          `UPDATE content_attributes SET string_value = 'v${i}', updated_at = ${ts} WHERE attribute_id % 307 = ${i % 307} AND attribute_name = 'Categoría'`,
        );
        break;
      case 2: // deletes on the full tables; every other time the whole account chain of transaction i - 2
        s.push(`DELETE FROM subscription_payments WHERE payment_id % 499 = ${i % 499}`, `DELETE FROM account_premium_features WHERE account_feature_id % 251 = ${i % 251}`);
        if (i % 12 === 2 && i > 2) {
          const old = 100_000 + i - 2;
          s.push(
            `DELETE FROM subscription_payments WHERE account_subscription_id = ${old}`,
            `DELETE FROM account_premium_features WHERE account_id = ${old}`,
            `DELETE FROM accounts_subscription WHERE account_id = ${old}`,
            `DELETE FROM accounts WHERE account_id = ${old}`,
          );
        }
        break;
      case 3: // new content with attributes on an existing account; deletes on the incremental tables when allowed
        s.push(
          `INSERT INTO contents VALUES (${k}, ${1 + (i % ACCOUNTS)}, 'writer content ${i}', NULL, 'video', ${ts}, ${ts})`,
          `INSERT INTO content_attributes VALUES (${k}, ${k}, 'Duración', NULL, ${i}.5, NULL, ${ts}, ${ts})`,
          `INSERT INTO content_attributes VALUES (${k + 500_000}, ${k}, 'Categoría', 'w', NULL, NULL, ${ts}, ${ts})`,
        );
        if (this.incrementalDeletes && i % 12 === 3 && i > 6) {
          const old = 100_000 + i - 6; // written by transaction i - 6 (also i % 6 = 3)
          s.push(`DELETE FROM content_attributes WHERE content_id = ${old}`, `DELETE FROM contents WHERE content_id = ${old}`);
          s.push(`DELETE FROM content_attributes WHERE attribute_id % 401 = ${i % 401} AND attribute_id < 100000`);
        }
        break;
      case 4: // the small parents: a new premium feature (removed by i + 6 half the time), subscription and price changes
        s.push(
          `INSERT INTO premium_features VALUES (${k}, 'Feature ${i}', NULL, ${i % 50}.99, ${ts}, ${ts})`,
          `UPDATE subscriptions SET max_contents_per_month = ${i}, updated_at = ${ts} WHERE subscription_id = ${1 + (i % 6)}`,
          `UPDATE premium_features SET base_price = base_price + 0.01, updated_at = ${ts} WHERE feature_id = ${1 + (i % 12)}`,
        );
        if (i % 12 === 10) s.push(`DELETE FROM premium_features WHERE feature_id = ${100_000 + i - 6}`);
        break;
      case 5: // foreign keys moved to other parents
        s.push(
          `UPDATE accounts_subscription SET subscription_id = ${1 + ((i * 7) % 6)}, updated_at = ${ts} WHERE account_subscription_id % 53 = ${i % 53}`,
          `UPDATE account_premium_features SET feature_id = ${1 + (i % 12)} WHERE account_feature_id % 47 = ${i % 47}`,
          `UPDATE content_attributes SET content_id = ${1 + (i % (3 * ACCOUNTS))}, updated_at = ${ts} WHERE attribute_id % 509 = ${i % 509} AND attribute_id < 100000`,
          `UPDATE contents SET account_id = ${1 + ((i * 3) % ACCOUNTS)}, updated_at = ${ts} WHERE content_id % 401 = ${i % 401}`,
        );
        break;
    }
    return `BEGIN; ${s.join('; ')}; COMMIT`;
  }

  start(): void {
    this.stopping = false;
    this.loop = (async () => {
      while (!this.stopping) {
        const i = this.transactions.length + 1;
        const sql = this.generate(i);
        this.transactions.push(sql);
        try {
          await this.client.query(sql);
        } catch (error) {
          throw new Error(`writer transaction ${i} failed: ${(error as Error).message}\n${sql}`);
        }
        this.committed = i;
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
  }

  /** Waits until at least n more transactions have committed. */
  async advance(n: number): Promise<void> {
    const target = this.committed + n;
    while (this.committed < target) await new Promise((r) => setTimeout(r, 5));
  }
}

let writer: Writer;
let writerClient: pg.Client;
let replayed = 0;

/** Replays the writer's transactions up to `upTo` on the replay database, in commit order. */
async function replayUpTo(upTo: number): Promise<void> {
  for (; replayed < upTo; replayed += 1) await replay.client.query(writer.transactions[replayed]!);
}

/** The destination's highest logged sequence: the last writer transaction inside the run's snapshot. */
async function snapshotSequence(): Promise<number> {
  const rows = await duckQuery(duckdbPath, `SELECT count(*) AS n, coalesce(max(seq), 0) AS m FROM ${DATASET}.chaos_log`);
  expect(Number(rows[0]!.n), 'chaos_log has no gap: the snapshot holds a prefix of the commits').toBe(Number(rows[0]!.m));
  return Number(rows[0]!.m);
}

/** Every table equals the replayed source at the snapshot, and every relationship holds in the destination. */
async function expectDestinationAtSnapshot(): Promise<number> {
  const m = await snapshotSequence();
  await replayUpTo(m);
  await expectTablesEqualSource(replay, duckdbPath, DATASET, TABLES.map((t) => [t, [KEY[t]!]]));
  for (const [child, fk, parent, pk] of RELATIONSHIPS) {
    const r = await duckQuery(duckdbPath, `SELECT count(*) AS n FROM ${DATASET}.${child} c WHERE NOT EXISTS (SELECT 1 FROM ${DATASET}.${parent} p WHERE p.${pk} = c.${fk})`);
    expect(Number(r[0]!.n), `orphans ${child}.${fk} → ${parent}`).toBe(0);
  }
  return m;
}

/** Runs ingesta while the writer commits; returns the result and the commits made before and after the run. */
async function runWithWriters(run: () => Promise<CliResult>): Promise<{ result: CliResult; before: number; after: number }> {
  writer.start();
  await writer.advance(50);
  const before = writer.committed;
  const result = await run();
  const after = writer.committed;
  await writer.stop();
  return { result, before, after };
}

beforeAll(async () => {
  db = await createTestDatabase();
  replay = await createTestDatabase('ingesta_replay');
  for (const d of [db, replay]) {
    await seedDataVision(d, ACCOUNTS, ANCHOR);
    await d.query('CREATE TABLE chaos_log (seq integer PRIMARY KEY, committed_at timestamp NOT NULL)');
  }
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-writers-'));
  duckdbPath = path.join(dir, 'dv.duckdb');
  proxy = await startTcpProxy();
  writerClient = await connect(db.url);
  writer = new Writer(writerClient);
});

afterAll(async () => {
  await writer?.stop();
  console.log(`concurrent-writers: ${writer?.transactions.length ?? 0} writer transactions, ${replayed} replayed and compared`);
  await writerClient?.end();
  await proxy?.close();
  await db?.drop();
  await replay?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('writers insert, update and delete across related tables during the run', () => {
  it('the seed is the same in both databases', async () => {
    for (const t of DATAVISION_TABLES) {
      const [a, b] = await Promise.all([db, replay].map((d) => d.query(`SELECT md5(string_agg(x::text, ',' ORDER BY ${KEY[t]})) AS d FROM ${t} x`)));
      expect(a![0]!.d, t).toBe(b![0]!.d);
    }
  });

  it('--full-refresh: every table equals the source at the extraction snapshot', async () => {
    const { result, before, after } = await runWithWriters(() => ingest(db.url, '--full-refresh'));
    expect(result.code, result.stderr).toBe(0);
    const m = await expectDestinationAtSnapshot();
    // the snapshot fell inside the writes: commits before it and after it
    expect(m).toBeGreaterThanOrEqual(before);
    expect(after, `commits after the snapshot (${m} in it)`).toBeGreaterThan(m);
    console.log(`full refresh: ${m} writer transactions in the snapshot, ${after} committed by the end of the run`);
  });

  it('deletes on the incremental tables committed after that snapshot: a --full-refresh of those tables applies them', async () => {
    // an incremental run does not see hard deletes (README, known limits): the writers went on deleting contents and
    // content_attributes after the full refresh's snapshot; a full refresh of the two (writers stopped) picks them up
    // and, from here on, the writers delete rows of the full tables only
    writer.incrementalDeletes = false;
    const r = await ingest(db.url, '--full-refresh', 'contents', 'content_attributes');
    expect(r.code, r.stderr).toBe(0);
    await replayUpTo(writer.committed);
    await expectTablesEqualSource(replay, duckdbPath, DATASET, ['contents', 'content_attributes'].map((t) => [t, [KEY[t]!]]));
  });

  it('incremental run while the writers go on: every table equals the source at its snapshot', async () => {
    const { result, before, after } = await runWithWriters(() => ingest(db.url));
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/contents\s+incremental/);
    expect(result.stdout).toMatch(/content_attributes\s+incremental/);
    const m = await expectDestinationAtSnapshot();
    expect(m).toBeGreaterThanOrEqual(before);
    expect(after).toBeGreaterThan(m);
    console.log(`incremental: ${m} writer transactions in the snapshot, ${after} committed by the end of the run`);
  });

  it('a second ingesta on the same DuckDB file is refused (exit 5) while the first runs; the first completes at its snapshot', async () => {
    writer.start();
    await writer.advance(20);
    // the first run reads through a throttled proxy (its extraction lasts seconds), so the second starts while the first
    // holds the DuckDB file: the file is opened (and locked) before the source snapshot is taken
    proxy.throttle(400_000);
    const copyBase = proxy.stats.copyBytes;
    const first = ingest(proxy.url(db.name));
    while (proxy.stats.copyBytes === copyBase) await new Promise((r) => setTimeout(r, 10));
    const second = await ingest(db.url);
    const firstResult = await first;
    const after = writer.committed;
    await writer.stop();
    proxy.disarm();

    expect(second.code, second.stderr).toBe(5);
    expect(second.stderr).toContain(`The DuckDB file ${duckdbPath} is in use by another process`);
    expect(second.stderr).toMatch(/wait for it to finish/);
    expect(second.stdout).not.toMatch(/ingesta run/);
    expect(firstResult.code, firstResult.stderr).toBe(0);
    const m = await expectDestinationAtSnapshot();
    expect(after).toBeGreaterThan(m);
    console.log(`while refusing a second run: ${m} writer transactions in the snapshot, ${after} committed by the end of the run`);
    // one run recorded, loaded; the refused one never opened the dataset
    const runs = await duckQuery(duckdbPath, `SELECT status, count(*) AS n FROM ${DATASET}._ingesta_runs GROUP BY status ORDER BY status`);
    expect(runs.map((r) => [r.status, Number(r.n)])).toEqual([['loaded', 4]]);
    const packages = localPackageRoot(duckdbPath, DATASET);
    expect(existsSync(packages) ? readdirSync(packages) : []).toEqual([]);
  });
});
