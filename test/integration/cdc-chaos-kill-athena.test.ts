import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAthenaEqualsSource } from '../helpers/athena-compare.js';
import { chaosRuns, chaosSeed, makeRng } from '../helpers/chaos.js';
import { runCli } from '../helpers/cli.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { startLogicalCluster } from '../helpers/logical-cluster.js';
import type { PgCluster } from '../helpers/pg-cluster.js';
import type { TestDatabase } from '../helpers/postgres.js';
import { lsnValue as lsn } from '../../src/source/postgres/cdc/pgoutput-decoder.js';

/**
 * The SIGKILL harness in CDC mode on dev/prod (S3 via s3rver, Glue/Athena via the executing stand-in): runs killed
 * at random crash points (while the changes are read, after the package is extracted, after the MERGEs and before
 * state.json, between state.json and the slot's confirmation) with random inserts, updates, deletes and TRUNCATEs
 * between them; after every run no key is duplicated in the Iceberg tables and the slot is never confirmed past the
 * LSN state.json holds; a final run leaves both tables equal to the source through Athena.
 * Seed: INGESTA_CHAOS_SEED; kills: a third of INGESTA_CHAOS_RUNS (2 inside `npm test`, 7 in `npm run test:reliability`).
 */
const SEED = chaosSeed();
// a dev/prod CLI run takes seconds (the AWS SDK's start-up, the stand-in's statements) and a killed run's lock must
// go stale (1 s) before the next: a third of INGESTA_CHAOS_RUNS keeps this file near 20 s inside `npm test` (2
// kills) and under 2 minutes in `npm run test:reliability` (7 kills)
const KILLS = Math.max(2, Math.ceil(chaosRuns() / 3));
const DATASET = 'raw_cdc_chaos_dev';
const POINTS = ['during-extract', 'after-extract', 'before-commit', 'after-commit'] as const;
const raw = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

let cluster: PgCluster;
let client: pg.Client;
let db: TestDatabase;
let dir: string;
let lake: Lakehouse;

// runs follow each other: a killed run's lock is stale after 1 s (the minimum) (no other run is alive to be taken over)
const ingest = (env: Record<string, string> = {}) =>
  runCli(['--env', 'dev', '--dataset', DATASET, '--tables', 'wallets', 'ledger', '--cdc', '--no-schema-export'], { ...lake.env(db.url), INGESTA_LOCK_STALE_AFTER: '1s', ...env });

async function storedLsn(): Promise<string | undefined> {
  try {
    const out = await lake.s3.send(new GetObjectCommand({ Bucket: 'lake', Key: `raw/${DATASET}/_ingesta/state.json` }));
    const state = JSON.parse(await out.Body!.transformToString()) as { tables: Record<string, { cursor?: { column: string; value: string } }> };
    return state.tables.wallets?.cursor?.value;
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

async function checkInvariants(label: string): Promise<void> {
  for (const [t, key] of [['wallets', 'id'], ['ledger', 'event_id']] as const) {
    if (!lake.aws.tables.has(`${DATASET}.${t}`)) continue;
    const [d] = await lake.athenaQuery(`SELECT count(*) - count(DISTINCT "${key}") AS d FROM "${DATASET}"."${t}"`);
    expect(Number(d!.d), `${label}: duplicate keys in ${t}`).toBe(0);
  }
  const stored = await storedLsn();
  const slot = (await client.query(`SELECT confirmed_flush_lsn::text AS c FROM pg_replication_slots`)).rows[0] as { c: string } | undefined;
  if (stored && slot) {
    // the slot moves only after state.json holds the position: never past it
    expect(lsn(slot.c) <= lsn(stored), `${label}: slot confirmed at ${slot.c}, past the stored ${stored}`).toBe(true);
  }
}

beforeAll(async () => {
  cluster = await startLogicalCluster();
  await cluster.exec('CREATE DATABASE chaos');
  const url = cluster.url('postgres', undefined, 'chaos');
  client = new pg.Client({ connectionString: url, types: raw });
  await client.connect();
  await client.query("SET TimeZone = 'UTC'");
  db = { name: 'chaos', url, client, query: async (sql: string, params?: unknown[]) => (await client.query(sql, params)).rows, drop: async () => undefined } as unknown as TestDatabase;
  await client.query(`CREATE TABLE wallets (id int PRIMARY KEY, name text, balance numeric(14,2), updated_at timestamptz)`);
  await client.query(`CREATE TABLE ledger (event_id bigint PRIMARY KEY, account_id int, kind text)`);
  await client.query(`INSERT INTO wallets SELECT g, 'a' || g, g * 10, now() FROM generate_series(1, 300) g`);
  await client.query(`INSERT INTO ledger SELECT g, g % 300 + 1, 'k' || (g % 7) FROM generate_series(1, 1000) g`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-cdc-chaos-dev-'));
  lake = await startLakehouse(dir);
}, 120_000);

afterAll(async () => {
  await client?.end().catch(() => undefined);
  await lake?.stop();
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe(`CDC on dev/prod under SIGKILL (seed ${SEED})`, () => {
  it(`${KILLS} random kills: nothing lost, nothing duplicated, the slot never confirmed past state.json`, async () => {
    const rng = makeRng(SEED);
    const random = () => rng.next();
    let nextEvent = 10_000;
    const kills: string[] = [];
    let killedBefore = false;
    // until KILLS runs were killed (a run that never reaches its kill point finishes), at most 3 × KILLS runs
    for (let i = 0; (kills.length < KILLS || i < KILLS + 2) && i < 3 * KILLS; i += 1) {
      const n = 1 + Math.floor(random() * 20);
      await client.query(`UPDATE wallets SET balance = balance + 1, updated_at = now() WHERE id IN (SELECT id FROM wallets ORDER BY random() LIMIT ${n})`);
      await client.query(`INSERT INTO ledger SELECT g, g % 300 + 1, 'new' FROM generate_series(${nextEvent}, ${nextEvent + n}) g`);
      nextEvent += n + 1;
      await client.query(`DELETE FROM ledger WHERE event_id IN (SELECT event_id FROM ledger ORDER BY random() LIMIT ${Math.ceil(n / 2)})`);
      if (random() < 0.2) await client.query(`INSERT INTO wallets VALUES (${1000 + i}, 'late', 0, '2001-01-01') ON CONFLICT (id) DO UPDATE SET name = 'again'`);
      if (random() < 0.08) await client.query(`TRUNCATE ledger`);
      const kill = kills.length < KILLS && random() < 0.9;
      const point = POINTS[Math.floor(random() * POINTS.length)]!;
      // (a killed run's lock must be silent for the stale time before the next run takes it over)
      if (killedBefore) await new Promise((r) => setTimeout(r, 1100));
      const r = await ingest(kill ? { INGESTA_CRASH_AT: point } : {});
      killedBefore = kill && r.signal === 'SIGKILL';
      if (killedBefore) kills.push(point);
      else expect(r.code, r.stderr).toBe(0);
      await checkInvariants(`run ${i} (${kill ? `kill at ${point}` : 'no kill'})`);
    }
    expect(kills.length, `kills: ${kills.join(', ')}`).toBeGreaterThanOrEqual(KILLS);
    if (killedBefore) await new Promise((r) => setTimeout(r, 1100));
    const last = await ingest();
    expect(last.code, last.stderr).toBe(0);
    await checkInvariants('final');
    await expectAthenaEqualsSource(lake, db, DATASET, 'wallets', 'id');
    await expectAthenaEqualsSource(lake, db, DATASET, 'ledger', 'event_id');
  }, 600_000);
});
