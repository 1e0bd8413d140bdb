import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client, type _Object } from '@aws-sdk/client-s3';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATAVISION_TABLES } from '../../src/demo/datavision-generator.js';
import {
  applyRandomChanges, chaosRuns, chaosSeed, describeRuns, hasExtractedPackage, makeRng, pickKill, pickRunArgs, profileOf, ProfileBook, recordOf,
  recoveredBy, runAndKill, runToEnd, tablesOf, tally, withReplayInfo, writeReliabilitySummary, type ChangeCounts, type KilledRun, type RunRecord,
} from '../helpers/chaos.js';
import { KEYS } from '../helpers/datavision.js';
import type { FakeAws } from '../helpers/fake-aws.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';
import { s3PackageRoot } from '../helpers/packages.js';

/**
 * Issue #8, "prove nothing is lost", for dev/prod: `ingesta --env dev` (S3 via s3rver, Glue/Athena via the loopback
 * stand-in of test/helpers/fake-aws.ts) is SIGKILLed at random moments over many runs with random source changes
 * between them, then one run goes to the end. Athena runs no SQL here, so the Iceberg tables are checked by replaying
 * what Athena was asked to do: every MERGE / DELETE statement it received is recorded with the batch its staging
 * table pointed at, and replayed in order on those Parquet files (which ingesta keeps) — the result must equal the
 * source. Full tables: the Parquet files Glue points at must equal the source; no other data folder may remain.
 * Seed: INGESTA_CHAOS_SEED; kills: INGESTA_CHAOS_RUNS.
 */

const SEED = chaosSeed();
const RUNS = chaosRuns();
const DATASET = 'raw_datavision_dev';
/** Dataset of the two measuring runs. */
const MEASURE = 'raw_datavision_measure';
const PREFIX = `raw/${DATASET}`;
const ACCOUNTS = 2000;
const INCREMENTAL = ['content_attributes', 'contents'];
const FULL = DATAVISION_TABLES.filter((t) => !INCREMENTAL.includes(t));

let db: TestDatabase;
let dir: string;
let packageDir: string;
let lake: Lakehouse;
let fake: FakeAws;
let s3: S3Client;

/** What Athena was asked to do to an Iceberg table, in order, with the batch folder its staging table read. */
interface IcebergOp {
  readonly op: 'merge' | 'prune' | 'delete-all';
  readonly table: string;
  /** Key prefix of the batch (`raw/<ds>/<table>/batches/<run>/`), for merge and prune. */
  readonly batch: string | undefined;
}
const icebergOps: IcebergOp[] = [];

function env(): Record<string, string> {
  return lake.env(db.url);
}

const cliArgs = (extra: string[], lag: string, dataset = DATASET) => ['--env', 'dev', '--dataset', dataset, '--package-dir', packageDir, '--lag', lag, ...extra];

async function listObjects(prefix: string): Promise<_Object[]> {
  const out: _Object[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: prefix, ContinuationToken: token }));
    out.push(...(page.Contents ?? []));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}

const listKeys = async (prefix: string) => (await listObjects(prefix)).map((o) => o.Key!).sort();

async function getJson<T>(key: string): Promise<T | undefined> {
  try {
    return JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: 'lake', Key: key }))).Body!.transformToString()) as T;
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

/** Folders (`…/data/<run>/`) holding objects under a prefix. */
const foldersOf = (keys: readonly string[]) => [...new Set(keys.map((k) => k.slice(0, k.lastIndexOf('/') + 1)))].sort();
const s3Key = (location: string) => location.replace('s3://lake/', '').replace(/\/?$/, '/');

/** Local copies of the Parquet files under a folder (downloaded once; batch folders never change once merged). */
const mirrored = new Map<string, string[]>();
async function mirror(folder: string, cache = true): Promise<string[]> {
  if (cache && mirrored.has(folder)) return mirrored.get(folder)!;
  const local = path.join(dir, 'mirror', folder.replace(/[^A-Za-z0-9_-]+/g, '_'));
  rmSync(local, { recursive: true, force: true });
  mkdirSync(local, { recursive: true });
  const files: string[] = [];
  for (const key of (await listKeys(folder)).filter((k) => k.endsWith('.parquet'))) {
    const file = path.join(local, `${files.length}.parquet`);
    writeFileSync(file, await (await s3.send(new GetObjectCommand({ Bucket: 'lake', Key: key }))).Body!.transformToByteArray());
    files.push(file);
  }
  if (cache) mirrored.set(folder, files);
  return files;
}

const parquetList = (files: readonly string[]) => `read_parquet([${files.map((f) => `'${f}'`).join(', ')}])`;

async function withDuck<T>(body: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  try {
    await c.run("SET TimeZone = 'UTC'");
    return await body(c);
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

const rowsOf = async (c: DuckDBConnection, sql: string) => (await c.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];

/**
 * The Iceberg tables as Athena would hold them, kept in an in-memory DuckDB for the whole test: each MERGE / prune /
 * delete Athena received is applied, in order, to the batch its staging table read (MERGE is an upsert by key).
 */
let simInstance: DuckDBInstance;
let sim: DuckDBConnection;
let applied = 0;
async function replayIcebergOps(): Promise<void> {
  for (; applied < icebergOps.length; applied += 1) {
    const op = icebergOps[applied]!;
    const key = KEYS[op.table]!;
    const table = `sim_${op.table}`;
    const batch = op.batch ? parquetList(await mirror(op.batch)) : undefined;
    if (batch) await sim.run(`CREATE TABLE IF NOT EXISTS ${table} AS SELECT * FROM ${batch} LIMIT 0`);
    if (op.op === 'merge') {
      await sim.run(`DELETE FROM ${table} WHERE ${key} IN (SELECT ${key} FROM ${batch})`);
      await sim.run(`INSERT INTO ${table} BY NAME SELECT * FROM ${batch}`);
    } else if (op.op === 'prune') {
      await sim.run(`DELETE FROM ${table} WHERE ${key} NOT IN (SELECT ${key} FROM ${batch})`);
    } else {
      await sim.run(`DELETE FROM ${table}`);
    }
  }
}

/** Every table a run loaded, as readers would see it now, equals the source: Parquet where Glue points, Iceberg replayed. */
async function expectLoadedTablesEqualSource(tables: readonly string[], label: string): Promise<number> {
  await replayIcebergOps();
  let rows = 0;
  for (const t of tables) {
    if (INCREMENTAL.includes(t)) {
      rows += await expectEqualsSource(sim, `sim_${t}`, t, `${label}, Iceberg table replayed from the statements Athena ran`);
    } else {
      const location = glueLocation(t);
      expect(location, `${label}: Glue table ${t}`).toBeDefined();
      rows += await withDuck(async (c) => expectEqualsSource(c, parquetList(await mirror(s3Key(location!), false)), t, `${label}, Parquet Glue reads`));
    }
  }
  return rows;
}

/** '9.500000000' and '9.5' are the same number. */
function normalize(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const text = String(value);
  return /^-?\d+\.\d+$/.test(text) ? text.replace(/0+$/, '').replace(/\.$/, '') : text;
}

/**
 * Asserts that `relation` (a DuckDB table or read_parquet) holds exactly the source table, every column as text;
 * timestamptz as its UTC wall time (what the Parquet files hold for Athena's `timestamp`). Returns the row count.
 */
async function expectEqualsSource(c: DuckDBConnection, relation: string, table: string, label: string): Promise<number> {
  const columns = await db.query<{ column_name: string; data_type: string }>(
    `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`,
    [table],
  );
  const key = KEYS[table]!;
  const asText = (x: { column_name: string; data_type: string }) =>
    `${x.data_type === 'timestamp with time zone' ? `(${x.column_name} AT TIME ZONE 'UTC')` : x.column_name}::text AS ${x.column_name}`;
  const source = await db.query(`SELECT ${columns.map(asText).join(', ')} FROM ${table} ORDER BY ${key}`);
  const dest = await rowsOf(c, `SELECT ${columns.map((x) => `CAST(${x.column_name} AS VARCHAR) AS ${x.column_name}`).join(', ')} FROM ${relation} ORDER BY ${key}`);
  expect(dest.length, `${label}: row count of ${table}`).toBe(source.length);
  for (let i = 0; i < source.length; i += 1) {
    const s = Object.fromEntries(columns.map((x) => [x.column_name, normalize(source[i]![x.column_name])]));
    const d = Object.fromEntries(columns.map((x) => [x.column_name, normalize(dest[i]![x.column_name])]));
    if (JSON.stringify(s) !== JSON.stringify(d)) expect(d, `${label}: ${table} row ${i}`).toEqual(s);
  }
  return source.length;
}

interface StateFile {
  version: number;
  tables: Record<string, { kind: string; location: string; runId: string; cursor?: { column: string; type: string; value: string | null } }>;
}

const glueLocation = (table: string) =>
  (fake.tables.get(`${DATASET}.${table}`) as { StorageDescriptor?: { Location?: string } } | undefined)?.StorageDescriptor?.Location;

/**
 * After every run, killed or not: what readers see is whole. Every full table's Glue location holds Parquet files
 * (never a half-deleted folder), state.json parses, its cursors are ≤ the newest updated_at Athena has merged.
 */
async function checkInvariants(label: string): Promise<void> {
  for (const t of FULL) {
    const location = glueLocation(t);
    if (location === undefined) continue; // not created yet (the first load was killed before it)
    const files = (await listKeys(s3Key(location))).filter((k) => k.endsWith('.parquet'));
    expect(files.length, `${label}: Glue table ${t} points at ${location}, which has no Parquet file`).toBeGreaterThan(0);
  }
  const state = await getJson<StateFile>(`${PREFIX}/_ingesta/state.json`);
  if (!state) return;
  expect(state.version).toBe(1);
  for (const t of INCREMENTAL) {
    const cursor = state.tables[t]?.cursor?.value;
    if (!cursor) continue;
    const merged = icebergOps.filter((o) => o.table === t && o.op === 'merge');
    expect(merged.length, `${label}: state has a cursor for ${t} but Athena never merged a batch of it`).toBeGreaterThan(0);
    const files = (await Promise.all(merged.map((o) => mirror(o.batch!)))).flat();
    const [row] = await withDuck((c) =>
      rowsOf(c, `SELECT CAST('${cursor}' AS TIMESTAMP) <= max(updated_at) AS ok, CAST(max(updated_at) AS VARCHAR) AS m FROM ${parquetList(files)}`),
    );
    expect(row!.ok, `${label}: cursor ${cursor} of ${t} is ahead of the newest merged row (${String(row!.m)})`).toBe(true);
  }
}

beforeAll(async () => {
  db = await createTestDatabase('ingesta_chaos_dev');
  await seedDataVision(db, ACCOUNTS);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-chaos-athena-'));
  packageDir = path.join(dir, 'packages');
  lake = await startLakehouse(dir);
  ({ fake, s3 } = lake);
  simInstance = await DuckDBInstance.create(':memory:');
  sim = await simInstance.connect();
  await sim.run("SET TimeZone = 'UTC'");
  // record, as Athena receives them, the statements that change an Iceberg table and the batch each one read
  const push = fake.statements.push.bind(fake.statements);
  const quoted = '"((?:[^"]|"")+)"';
  fake.statements.push = (...statements: string[]) => {
    for (const sql of statements) {
      if (!sql.includes(`"${DATASET}".`)) continue; // the measuring runs' dataset
      const stageLocation = (stage: string) => {
        const t = fake.tables.get(`${DATASET}.${stage.replace(/""/g, '"')}`) as { StorageDescriptor?: { Location?: string } } | undefined;
        if (!t?.StorageDescriptor?.Location) throw new Error(`Athena was asked to read staging table ${stage}, which Glue does not have`);
        return s3Key(t.StorageDescriptor.Location);
      };
      let m = new RegExp(`^MERGE INTO ${quoted}\\.${quoted} AS t USING ${quoted}\\.${quoted} AS s`).exec(sql);
      if (m) icebergOps.push({ op: 'merge', table: m[2]!, batch: stageLocation(m[4]!) });
      m = new RegExp(`^DELETE FROM ${quoted}\\.${quoted} AS t WHERE NOT EXISTS \\(SELECT 1 FROM ${quoted}\\.${quoted} AS s`).exec(sql);
      if (m) icebergOps.push({ op: 'prune', table: m[2]!, batch: stageLocation(m[4]!) });
      m = new RegExp(`^DELETE FROM ${quoted}\\.${quoted}$`).exec(sql);
      if (m) icebergOps.push({ op: 'delete-all', table: m[2]!, batch: undefined });
    }
    return push(...statements);
  };
});

afterAll(async () => {
  sim?.closeSync();
  simInstance?.closeSync();
  await lake?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('SIGKILL at random moments (--env dev: S3 + Glue + Athena): nothing is lost, readers always see whole tables', () => {
  it(`survives ${RUNS} runs killed at random, with source changes between them`, { timeout: 300_000 }, async () => {
    console.log(`[chaos-kill-athena] seed ${SEED} (replay: INGESTA_CHAOS_SEED=${SEED}), ${RUNS} runs`);
    const started = Date.now();
    // two streams: source changes replay exactly from the seed even when kill outcomes (machine timing) differ
    const rng = makeRng(SEED);
    const killRng = makeRng(SEED ^ 0x5bd1e995);
    const records: RunRecord[] = [];
    const replay = () => describeRuns(SEED, records);
    const none: ChangeCounts = { inserted: 0, updated: 0, deleted: 0 };
    const changes: ChangeCounts = { ...none };
    const addChanges = (c: ChangeCounts) => {
      changes.inserted += c.inserted;
      changes.updated += c.updated;
      changes.deleted += c.deleted;
    };
    const recoveries: { runId: string; action: string; reason: string }[] = [];
    const track = (r: KilledRun) => recoveries.push(...recoveredBy(r));
    const lockKey = `${PREFIX}/_ingesta/lock.json`;
    const locksLeft: string[] = [];
    const packageRoot = s3PackageRoot(packageDir, 'lake', 'raw', DATASET, lake.s3url);
    const leftoverPackages = () => (existsSync(packageRoot) ? readdirSync(packageRoot) : []);
    let rowsCompared = 0;
    const runRecord = (runId: string) => getJson<{ status: string }>(`${PREFIX}/_ingesta/runs/${runId}.json`);

    await withReplayInfo(replay, async () => {
      // two uncut runs on a scratch dataset measure the profiles kills are drawn from: a full load, and an incremental
      // run after changes; the dataset under test starts empty, so its first load is killed like any other run
      const full = await runToEnd(cliArgs([], '0', MEASURE), env(), dir);
      records.push(recordOf(0, ['(measure: first load)'], undefined, 'uncut', full, none));
      expect(full.code, full.stderr + full.stdout.slice(-2000)).toBe(0);
      const firstSnapshot = String(full.events.find((e) => e.type === 'snapshot_taken')!.snapshotAt);
      const first = await applyRandomChanges(db, rng, 0, ACCOUNTS);
      addChanges(first);
      const incremental = await runToEnd(cliArgs([], '0', MEASURE), env(), dir);
      records.push(recordOf(0, ['(measure: plain)'], undefined, 'uncut', incremental, first));
      expect(incremental.code, incremental.stderr).toBe(0);
      const profiles = new ProfileBook();
      profiles.add('full', full);
      profiles.add('plain', incremental);
      const p = profileOf(full);
      console.log(
        `[chaos-kill-athena] uncut runs: full load ${full.elapsedMs} ms ` +
          `(snapshot at ${p.snapshotMs}, extracted at ${p.extractedMs}, committed at ${p.committedMs}), ` +
          `incremental ${incremental.elapsedMs} ms`,
      );
      let committedOnce = false;

      let killedAfterCommit = 0;
      for (let i = 1; i <= RUNS; i += 1) {
        const c = await applyRandomChanges(db, rng, i, ACCOUNTS);
        addChanges(c);
        // flags and kill moment from their own stream; the kill from the median profile of completed runs of that kind
        const { extra, lag, kind: runKind } = pickRunArgs(killRng, committedOnce);
        const { plan, kind } = pickKill(killRng, profiles.get(runKind, runKind === 'full' ? 'full' : 'plain'), hasExtractedPackage(packageRoot));
        const run = await runAndKill(cliArgs(extra, lag), env(), plan, dir);
        track(run);
        profiles.add(runKind, run);
        const record = recordOf(i, [...extra, '--lag', lag], plan, kind, run, c);
        records.push(record);
        if (run.outcome === 'completed') {
          expect(run.code, `run ${i} completed with exit ${run.code}: ${run.stderr}`).toBe(0);
          expect(leftoverPackages(), `run ${i} completed but left packages`).toEqual([]);
          expect(await listKeys(lockKey), `run ${i} completed but left its lock`).toEqual([]);
          // the source did not change during the run: every table it loaded, as readers see it, equals the source
          rowsCompared += await expectLoadedTablesEqualSource(tablesOf(run), `after run ${i}`);
        } else {
          if (record.runId && (await runRecord(record.runId))?.status === 'loaded') killedAfterCommit += 1;
          // a SIGKILLed run cannot release lock.json (a known limit: the next run is refused until it is deleted or
          // 6 hours old); the operator's step, done here once the store has settled the killed run's last requests
          let left = false;
          for (let settle = 0; settle < 3; settle += 1) {
            await sleep(100);
            if ((await listKeys(lockKey)).length === 0) continue;
            left = true;
            await s3.send(new DeleteObjectCommand({ Bucket: 'lake', Key: lockKey }));
          }
          if (left) locksLeft.push(record.runId ?? `run ${i}`);
        }
        await checkInvariants(`after run ${i} (${record.outcome}, ${record.phase})`);
        committedOnce ||= (await listKeys(`${PREFIX}/_ingesta/state.json`)).length > 0;
      }

      const last = await applyRandomChanges(db, rng, RUNS + 1, ACCOUNTS);
      addChanges(last);
      const final = await runToEnd(cliArgs([], '0'), env(), dir);
      track(final);
      records.push(recordOf(RUNS + 1, ['(final, plain)'], undefined, 'uncut', final, last));
      expect(final.code, final.stderr).toBe(0);
      console.log(replay());
      await checkInvariants('after the final run');

      // the run is over: lock released, no package, no staging table
      expect(await listKeys(lockKey), 'lock after the completed run').toEqual([]);
      expect(leftoverPackages(), 'leftover load packages').toEqual([]);
      expect([...fake.tables.keys()].filter((k) => k.endsWith('__ingesta_stage')), 'leftover staging tables').toEqual([]);

      // state.json: every table, full tables where Glue points, cursors at the source's newest change
      const state = (await getJson<StateFile>(`${PREFIX}/_ingesta/state.json`))!;
      expect(Object.keys(state.tables).sort()).toEqual([...DATAVISION_TABLES].sort());
      const finalRunId = records[records.length - 1]!.runId!;
      expect((await runRecord(finalRunId))?.status).toBe('loaded');
      const orphans: string[] = [];
      for (const t of FULL) {
        const s = state.tables[t]!;
        expect(s.kind, t).toBe('parquet');
        expect(s.runId, `${t}: loaded by the final run`).toBe(finalRunId);
        expect(glueLocation(t), `${t}: Glue and state.json agree`).toBe(s.location);
        // the only data folder left is the one Glue points at
        const folders = foldersOf(await listKeys(`${PREFIX}/${t}/data/`));
        orphans.push(...folders.filter((f) => f !== s3Key(s.location)));
        expect(folders, `${t}: data folders (Glue points at ${s.location})`).toEqual([s3Key(s.location)]);
      }
      for (const t of INCREMENTAL) {
        const s = state.tables[t]!;
        expect(s.kind, t).toBe('iceberg');
        expect(glueLocation(t), `${t}: Glue and state.json agree`).toBe(s.location);
        const [src] = await db.query(`SELECT max(updated_at)::text AS m FROM ${t}`);
        expect(s.cursor?.value, `cursor of ${t}`).toBe(src!.m);
      }
      // every table equals the source: the Parquet files Glue points at, the Iceberg tables replayed from every MERGE /
      // prune / delete Athena received, in order, on the batch each one read
      const finalRows = await expectLoadedTablesEqualSource(DATAVISION_TABLES, 'after the final run');
      rowsCompared += finalRows;
      for (const t of INCREMENTAL) {
        const key = KEYS[t]!;
        const [dupes] = await rowsOf(sim, `SELECT count(*) - count(DISTINCT ${key}) AS d FROM sim_${t}`);
        expect(Number(dupes!.d), `${t}: duplicate keys`).toBe(0);
        // and, as issue #8 states it: every source row changed since the first load is in some kept batch
        const kept = (await listKeys(`${PREFIX}/${t}/batches/`)).filter((k) => k.endsWith('.parquet'));
        const keptFiles = (await Promise.all(foldersOf(kept).map((f) => mirror(f)))).flat();
        const changed = await db.query(`SELECT ${key}::text AS k, updated_at::text AS u FROM ${t} WHERE updated_at > $1::timestamptz AT TIME ZONE 'UTC'`, [
          firstSnapshot,
        ]);
        const inBatches = new Set(
          (await rowsOf(sim, `SELECT CAST(${key} AS VARCHAR) || '@' || CAST(updated_at AS VARCHAR) AS k FROM ${parquetList(keptFiles)}`)).map((x) => String(x.k)),
        );
        const missing = changed.filter((x) => !inBatches.has(`${x.k}@${x.u}`));
        expect(missing.slice(0, 5), `${t}: ${missing.length} of ${changed.length} rows changed since the first load are in no kept batch`).toEqual([]);
      }

      // the run records agree with what the runs said: completed or removed packages loaded, discarded ones not
      for (const rec of records.filter((x) => x.outcome === 'completed' && x.runId && !x.args.startsWith('(measure'))) {
        expect((await runRecord(rec.runId!))?.status, `run ${rec.runId}`).toBe('loaded');
      }
      for (const pkg of recoveries) {
        expect((await runRecord(pkg.runId))?.status === 'loaded', `package ${pkg.runId} (${pkg.action})`).toBe(pkg.action !== 'discarded');
      }

      // batches uploaded by a killed run that Athena never merged: kept, though no MERGE read them
      const mergedBatches = new Set(icebergOps.filter((o) => o.op === 'merge').map((o) => o.batch));
      const unmergedBatches: string[] = [];
      for (const t of INCREMENTAL) unmergedBatches.push(...foldersOf(await listKeys(`${PREFIX}/${t}/batches/`)).filter((f) => !mergedBatches.has(f)));

      const chaos = records.filter((x) => x.kind !== 'uncut');
      const summary = {
        test: 'chaos-kill-athena (dev: s3rver + Glue/Athena stand-in)',
        seed: SEED,
        runs: chaos.length,
        kills: chaos.filter((x) => x.outcome === 'killed').length,
        completed: chaos.filter((x) => x.outcome === 'completed').length,
        killedAfterCommit,
        killPhases: tally(chaos.filter((x) => x.outcome === 'killed').map((x) => x.phase)),
        recoveryReasons: tally(recoveries.map((x) => `${x.action}: ${x.reason.replace(/\(\d+ tables\)/, '(n tables)').slice(0, 160)}`)),
        recoveredPackages: tally(recoveries.map((pkg) => pkg.action)),
        locksLeftByKills: locksLeft.length,
        icebergStatementsReplayed: icebergOps.length,
        unmergedBatchFolders: unmergedBatches.length,
        orphanDataFolders: orphans.length,
        changesApplied: changes,
        rowsCompared,
        finalSourceRows: finalRows,
        completedRunsVerified: chaos.filter((x) => x.outcome === 'completed').length + 1,
        uncutRunMs: { fullLoad: full.elapsedMs, incremental: incremental.elapsedMs },
        wallClockSeconds: Math.round((Date.now() - started) / 100) / 10,
        finishedAt: new Date().toISOString(),
      };
      const file = writeReliabilitySummary('chaos-kill-athena', summary);
      console.log(
        `[chaos-kill-athena] seed ${SEED}: ${summary.kills} kills (${Object.entries(summary.killPhases).map(([k, v]) => `${k} ${v}`).join(', ')}), ` +
          `${summary.completed} completed, ` +
          `${killedAfterCommit} killed after commit, ${locksLeft.length} locks left by kills; packages recovered ${JSON.stringify(summary.recoveredPackages)}; ` +
          `${icebergOps.length} Iceberg statements replayed; ${unmergedBatches.length} batch folders never merged; ` +
          `changes +${changes.inserted}/~${changes.updated}/-${changes.deleted}; ${rowsCompared} rows compared, all equal; ${summary.wallClockSeconds} s → ${file}`,
      );
    });
  });
});
