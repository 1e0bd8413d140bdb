import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATAVISION_TABLES } from '../../src/demo/datavision-generator.js';
import {
  applyRandomChanges, chaosRuns, chaosSeed, describeRuns, hasExtractedPackage, makeRng, pickKill, pickRunArgs, profileOf, ProfileBook, recordOf,
  recoveredBy, runAndKill, runToEnd, tablesOf, tally, withReplayInfo, writeReliabilitySummary, type ChangeCounts, type KilledRun, type RunRecord,
} from '../helpers/chaos.js';
import { KEYS } from '../helpers/datavision.js';
import { duckQuery, expectTablesEqualSource, withDuckDb } from '../helpers/duckdb.js';
import { createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';
import { localPackageRoot } from '../helpers/packages.js';

/**
 * Issue #8, "prove nothing is lost": `ingesta --env local` is SIGKILLed at random moments (start-up, recovery of a
 * leftover package, extraction, the load transaction, around the commit, the cleanup after it) over many runs, with
 * random source changes between them; then one run goes to the end and the DuckDB file must equal the source, with no
 * duplicate key, consistent cursors, and nothing left behind. Seed: INGESTA_CHAOS_SEED; kills: INGESTA_CHAOS_RUNS.
 */

const SEED = chaosSeed();
const RUNS = chaosRuns();
const DATASET = 'raw_datavision_local';
const ACCOUNTS = 2000;
const INCREMENTAL = ['content_attributes', 'contents'];

let db: TestDatabase;
let dir: string;
let duckdbPath: string;
let packages: string;

const cliArgs = (extra: string[], lag: string, file = duckdbPath) => ['--env', 'local', '--duckdb-path', file, '--lag', lag, ...extra];

function leftoverPackages(): string[] {
  return existsSync(packages) ? readdirSync(packages) : [];
}

/** The dataset's tables in an open DuckDB file (none before the first commit). */
async function datasetTables(query: (sql: string) => Promise<Record<string, unknown>[]>): Promise<string[]> {
  return (await query(`SELECT table_name FROM duckdb_tables() WHERE schema_name = '${DATASET}' ORDER BY 1`)).map((r) => String(r.table_name));
}

/**
 * Invariants that must hold after every run, killed or not: the file opens; no duplicate key; at most one state row
 * per incremental table, its cursor ≤ max(updated_at) in the destination table; no merge/staging table left.
 */
async function checkInvariants(label: string): Promise<void> {
  if (!existsSync(duckdbPath)) return; // nothing committed yet
  await withDuckDb(duckdbPath, (query) => checkInvariantsOn(query, label));
}

async function checkInvariantsOn(query: (sql: string) => Promise<Record<string, unknown>[]>, label: string): Promise<void> {
  const present = new Set(await datasetTables(query));
  if (!present.has('_ingesta_state')) return; // nothing committed yet
  const loaded = DATAVISION_TABLES.filter((t) => present.has(t));
  if (loaded.length > 0) {
    const dupes = await query(
      loaded.map((t) => `SELECT '${t}' AS t, count(*) - count(DISTINCT ${KEYS[t]}) AS d FROM ${DATASET}.${t}`).join(' UNION ALL '),
    );
    for (const row of dupes) expect(Number(row.d), `${label}: duplicate keys in ${String(row.t)}`).toBe(0);
  }
  const state = await query(
    `SELECT table_name, count(*) AS n, max(cursor_value) AS cursor_value FROM ${DATASET}._ingesta_state GROUP BY 1 ORDER BY 1`,
  );
  for (const row of state) {
    const table = String(row.table_name);
    expect(INCREMENTAL, `${label}: state row for ${table}`).toContain(table);
    expect(Number(row.n), `${label}: state rows of ${table}`).toBe(1);
    expect(present.has(table), `${label}: state for ${table}, which the destination does not have`).toBe(true);
    const [check] = await query(
      `SELECT CAST('${String(row.cursor_value)}' AS TIMESTAMP) <= max(updated_at) AS ok, CAST(max(updated_at) AS VARCHAR) AS m FROM ${DATASET}.${table}`,
    );
    expect(check!.ok, `${label}: cursor ${String(row.cursor_value)} of ${table} is ahead of max(updated_at) ${String(check!.m)} in the destination`).toBe(true);
  }
  const scratch = await query(
    `SELECT schema_name, table_name FROM duckdb_tables()
     WHERE table_name IN ('_ingesta_merge', '_ingesta_stage') OR table_name LIKE '%\\_\\_ingesta\\_stage' ESCAPE '\\'`,
  );
  expect(scratch, `${label}: leftover merge/staging tables`).toEqual([]);
}

beforeAll(async () => {
  db = await createTestDatabase('ingesta_chaos');
  await seedDataVision(db, ACCOUNTS);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-chaos-'));
  duckdbPath = path.join(dir, 'dv.duckdb');
  packages = localPackageRoot(duckdbPath, DATASET);
});

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('SIGKILL at random moments (--env local): nothing is lost, nothing duplicated, nothing left behind', () => {
  it(`survives ${RUNS} runs killed at random, with source changes between them`, { timeout: 600_000 }, async () => {
    console.log(`[chaos-kill] seed ${SEED} (replay: INGESTA_CHAOS_SEED=${SEED}), ${RUNS} runs`);
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
    const loadedRuns = async () =>
      existsSync(duckdbPath)
        ? withDuckDb(duckdbPath, async (query) =>
            (await datasetTables(query)).includes('_ingesta_runs')
              ? new Set((await query(`SELECT run_id FROM ${DATASET}._ingesta_runs WHERE status = 'loaded'`)).map((r) => String(r.run_id)))
              : new Set<string>(),
          )
        : new Set<string>();
    const killedAfterCommit: string[] = [];
    const recoveries: { runId: string; action: string; reason: string }[] = [];
    const track = (r: KilledRun) => recoveries.push(...recoveredBy(r));
    let rowsCompared = 0;

    await withReplayInfo(replay, async () => {
      // two uncut runs on a scratch file measure the profiles kills are drawn from: a full load, and an incremental
      // run after changes; the file under test starts empty, so its first load is killed like any other run
      const measure = path.join(dir, 'measure', 'dv.duckdb');
      const full = await runToEnd(cliArgs([], '0', measure), { DATABASE_URL: db.url }, dir);
      records.push(recordOf(0, ['(measure: first load)'], undefined, 'uncut', full, none));
      expect(full.code, full.stderr).toBe(0);
      const first = await applyRandomChanges(db, rng, 0, ACCOUNTS, { incrementalDeletes: true });
      addChanges(first);
      const incremental = await runToEnd(cliArgs([], '0', measure), { DATABASE_URL: db.url }, dir);
      records.push(recordOf(0, ['(measure: plain)'], undefined, 'uncut', incremental, first));
      expect(incremental.code, incremental.stderr).toBe(0);
      rmSync(path.dirname(measure), { recursive: true, force: true });
      const profiles = new ProfileBook();
      profiles.add('full', full);
      profiles.add('plain', incremental);
      const p = profileOf(full);
      console.log(
        `[chaos-kill] uncut runs: full load ${full.elapsedMs} ms (snapshot at ${p.snapshotMs}, extracted at ${p.extractedMs}, committed at ${p.committedMs}), ` +
          `incremental ${incremental.elapsedMs} ms`,
      );
      let committedOnce = false;

      for (let i = 1; i <= RUNS; i += 1) {
        const c = await applyRandomChanges(db, rng, i, ACCOUNTS, { incrementalDeletes: true });
        addChanges(c);
        // flags and kill moment from their own stream; the kill from the median profile of completed runs of that kind
        const { extra, lag, kind: runKind } = pickRunArgs(killRng, committedOnce);
        const { plan, kind } = pickKill(killRng, profiles.get(runKind, runKind === 'full' ? 'full' : 'plain'), hasExtractedPackage(packages));
        const run = await runAndKill(cliArgs(extra, lag), { DATABASE_URL: db.url }, plan, dir);
        track(run);
        profiles.add(runKind, run);
        const record = recordOf(i, [...extra, '--lag', lag], plan, kind, run, c);
        records.push(record);
        if (run.outcome === 'completed') {
          expect(run.code, `run ${i} completed with exit ${run.code}: ${run.stderr}`).toBe(0);
          expect(leftoverPackages(), `run ${i} completed but left packages`).toEqual([]);
          // the source did not change during the run: every table it loaded equals the source now
          rowsCompared += await expectTablesEqualSource(db, duckdbPath, DATASET, tablesOf(run).map((t) => [t, [KEYS[t]!]]));
        } else if (record.runId && (await loadedRuns()).has(record.runId)) {
          killedAfterCommit.push(record.runId);
        }
        committedOnce ||= (await loadedRuns()).size > 0;
        await checkInvariants(`after run ${i} (${record.outcome}, ${record.phase})`);
      }

      // one more round of changes, then a plain run to the end (no --full-refresh: the merges must have kept up)
      const last = await applyRandomChanges(db, rng, RUNS + 1, ACCOUNTS, { incrementalDeletes: true });
      addChanges(last);
      const final = await runToEnd(cliArgs([], '0'), { DATABASE_URL: db.url }, dir);
      track(final);
      records.push(recordOf(RUNS + 1, ['(final, plain)'], undefined, 'uncut', final, last));
      expect(final.code, final.stderr).toBe(0);
      console.log(replay());

      // every table equals the source, value for value
      let finalRows = 0;
      finalRows += await expectTablesEqualSource(db, duckdbPath, DATASET, DATAVISION_TABLES.map((t) => [t, [KEYS[t]!]]));
      rowsCompared += finalRows;
      await checkInvariants('after the final run');
      const stateRows = await duckQuery(duckdbPath, `SELECT table_name FROM ${DATASET}._ingesta_state ORDER BY 1`);
      expect(stateRows.map((r) => String(r.table_name)), 'one state row per incremental table').toEqual(INCREMENTAL);
      // cursors: exactly the source's max(updated_at) after a run that saw everything
      for (const t of INCREMENTAL) {
        const [src] = await db.query(`SELECT max(updated_at)::text AS m FROM ${t}`);
        const [dst] = await duckQuery(duckdbPath, `SELECT cursor_value FROM ${DATASET}._ingesta_state WHERE table_name = '${t}'`);
        expect(String(dst!.cursor_value), `cursor of ${t}`).toBe(src!.m);
      }
      // nothing left behind: no package, no extra table in the dataset
      expect(leftoverPackages(), 'leftover load packages').toEqual([]);
      const tables = existsSync(duckdbPath) ? await withDuckDb(duckdbPath, datasetTables) : [];
      expect(tables.filter((t) => !t.startsWith('_ingesta_')).sort()).toEqual([...DATAVISION_TABLES].sort());
      // the run history agrees with what the runs said: completed or removed packages were loaded, discarded ones not
      const loaded = await loadedRuns();
      for (const rec of records.filter((x) => x.outcome === 'completed' && x.runId && !x.args.startsWith('(measure'))) {
        expect(loaded.has(rec.runId!), `completed run ${rec.runId} recorded as loaded`).toBe(true);
      }
      for (const p of recoveries) expect(loaded.has(p.runId), `package ${p.runId} (${p.action}) vs _ingesta_runs`).toBe(p.action !== 'discarded');

      const chaos = records.filter((x) => x.kind !== 'uncut');
      const summary = {
        test: 'chaos-kill (local, DuckDB)',
        seed: SEED,
        runs: chaos.length,
        kills: chaos.filter((x) => x.outcome === 'killed').length,
        completed: chaos.filter((x) => x.outcome === 'completed').length,
        killedAfterCommit: killedAfterCommit.length,
        killPhases: tally(chaos.filter((x) => x.outcome === 'killed').map((x) => x.phase)),
        recoveryReasons: tally(recoveries.map((x) => `${x.action}: ${x.reason.replace(/\(\d+ tables\)/, '(n tables)').slice(0, 160)}`)),
        recoveredPackages: tally(recoveries.map((p) => p.action)),
        changesApplied: changes,
        rowsCompared,
        finalSourceRows: finalRows,
        completedRunsVerified: chaos.filter((x) => x.outcome === 'completed').length + 1,
        uncutRunMs: { fullLoad: full.elapsedMs, incremental: incremental.elapsedMs },
        wallClockSeconds: Math.round((Date.now() - started) / 100) / 10,
        finishedAt: new Date().toISOString(),
      };
      const file = writeReliabilitySummary('chaos-kill', summary);
      console.log(
        `[chaos-kill] seed ${SEED}: ${summary.kills} kills (${Object.entries(summary.killPhases).map(([k, v]) => `${k} ${v}`).join(', ')}), ` +
          `${summary.completed} completed, ` +
          `${summary.killedAfterCommit} killed after commit; packages recovered ${JSON.stringify(summary.recoveredPackages)}; ` +
          `changes +${changes.inserted}/~${changes.updated}/-${changes.deleted}; ${rowsCompared} rows compared, all equal; ${summary.wallClockSeconds} s → ${file}`,
      );
    });
  });
});
