import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../helpers/cli.js';
import { duckQuery } from '../helpers/duckdb.js';
import { connect, createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';

/**
 * Regression (issue #13, item 2): TRUNCATE and table-rewriting ALTER TABLE are not MVCC-safe. Committed while a run
 * was between BEGIN and reading a table, they made it read as empty: a full table was replaced by 0 rows, an
 * incremental table's key reconciliation deleted every key. The run now locks its tables (ACCESS SHARE) before the
 * snapshot's first query, on every reader connection: such a command waits for the run.
 *
 * The race is made deterministic with a view whose read waits on an advisory lock the test holds: the run has taken
 * its snapshot and sits on that view while the other sessions try to TRUNCATE / ALTER the tables it has not read yet.
 */

let db: TestDatabase;
let dir: string;
let catalog: string;
const DATASET = 'raw_locks';
const ROWS = 500;
const GATE_LOCK = 4242;

beforeAll(async () => {
  db = await createTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-locks-'));
  catalog = path.join(dir, 'c.yaml');
  writeFileSync(
    catalog,
    ['version: 1', 'tables:', '  inc:', '    primary_key: [id]', '    write_disposition: merge', '    incremental: { cursor_column: updated_at, reconcile: true }', ''].join('\n'),
  );
  await db.query(`CREATE FUNCTION wait_gate() RETURNS int LANGUAGE plpgsql VOLATILE AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(${GATE_LOCK}); RETURN 1; END $$`);
  await db.query(`CREATE VIEW gate AS SELECT wait_gate() AS x`);
  await db.query(`CREATE VIEW gate2 AS SELECT wait_gate() AS x`);
});

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function fill(): Promise<void> {
  await db.query(`DROP TABLE IF EXISTS full_t, wide, inc`);
  await db.query(`CREATE TABLE full_t (id int PRIMARY KEY, v text)`);
  await db.query(`CREATE TABLE wide (id int PRIMARY KEY, n int)`);
  await db.query(`CREATE TABLE inc (id int PRIMARY KEY, v text, updated_at timestamptz)`);
  await db.query(`INSERT INTO full_t SELECT i, 'v' || i FROM generate_series(1, ${ROWS}) i`);
  await db.query(`INSERT INTO wide SELECT i, i FROM generate_series(1, ${ROWS}) i`);
  await db.query(`INSERT INTO inc SELECT i, 'v' || i, now() - interval '1 day' FROM generate_series(1, ${ROWS}) i`);
}

const counts = async (file: string) =>
  (await duckQuery(file, `SELECT (SELECT count(*) FROM ${DATASET}.full_t)::INT AS full_t, (SELECT count(*) FROM ${DATASET}.wide)::INT AS wide, (SELECT count(*) FROM ${DATASET}.inc)::INT AS inc`))[0];

async function waitFor(what: string, condition: () => Promise<boolean>): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > 60_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sessions of ingesta waiting on the gate's advisory lock. */
async function waitingOnGate(n: number): Promise<boolean> {
  const rows = await db.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'ingesta' AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
    [db.name],
  );
  return Number(rows[0]!.n) >= n;
}

/** A statement on its own session: settled, or waiting for a lock. */
async function concurrently(sql: string): Promise<{ session: pg.Client; done: Promise<unknown>; settled: () => boolean; pid: number }> {
  const session = await connect(db.url);
  const pid = Number((await session.query<{ pid: string }>('SELECT pg_backend_pid()::text AS pid')).rows[0]!.pid);
  let settled = false;
  const done = session.query(sql).then(
    (r) => ((settled = true), r),
    (e: unknown) => ((settled = true), e),
  );
  return { session, done, settled: () => settled, pid };
}

async function blockedOrDone(s: { settled: () => boolean; pid: number }): Promise<boolean> {
  if (s.settled()) return true;
  const rows = await db.query(`SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1`, [s.pid]);
  return rows[0]?.wait_event_type === 'Lock';
}

/**
 * A baseline load, then a run that stops on the gate view(s) after its snapshot; meanwhile TRUNCATE the full and the
 * incremental table and rewrite the third with ALTER … TYPE; then let the run go on.
 */
async function race(gates: string[], extra: string[]): Promise<{ run: CliResult; file: string }> {
  await fill();
  const file = path.join(dir, `race-${gates.length}-${Date.now()}.duckdb`);
  const ingest = () =>
    runCli(['--env', 'local', '--duckdb-path', file, '--catalog', catalog, '--dataset', DATASET, '--tables', ...gates, 'full_t', 'wide', 'inc', ...extra], {
      DATABASE_URL: db.url,
    });
  const baseline = await ingest();
  expect(baseline.code, baseline.stderr).toBe(0);
  expect(await counts(file)).toEqual({ full_t: ROWS, wide: ROWS, inc: ROWS });

  const holder = await connect(db.url);
  const writers: Awaited<ReturnType<typeof concurrently>>[] = [];
  try {
    await holder.query(`SELECT pg_advisory_lock(${GATE_LOCK})`);
    const running = ingest();
    await waitFor('the run to wait on the gate', () => waitingOnGate(gates.length));
    for (const sql of ['TRUNCATE full_t', 'ALTER TABLE wide ALTER COLUMN n TYPE bigint', 'TRUNCATE inc']) writers.push(await concurrently(sql));
    for (const w of writers) await waitFor('the writer to commit or wait', () => blockedOrDone(w));
    await holder.query(`SELECT pg_advisory_unlock(${GATE_LOCK})`);
    const run = await running;
    for (const w of writers) await w.done;
    return { run, file };
  } finally {
    await holder.end();
    for (const w of writers) await w.session.end();
  }
}

describe('TRUNCATE and a rewriting ALTER committed while a run holds its snapshot', () => {
  it('one connection: the tables are not emptied in the destination; the commands waited for the run (regression: 0 rows, every key deleted)', async () => {
    const { run, file } = await race(['gate'], ['--max-connections', '1', '--lock-timeout', '60s']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(await counts(file)).toEqual({ full_t: ROWS, wide: ROWS, inc: ROWS });
    expect(run.stdout).toMatch(/reconciled inc: 500 source keys compared, 0 rows re-read/);
    // the commands ran after the run: the next run loads what they left
    expect((await db.query(`SELECT count(*)::text AS n FROM full_t`))[0]!.n).toBe('0');
  });

  it('two reader connections joining the exported snapshot hold the locks too (a reader must not queue behind a waiting TRUNCATE)', async () => {
    const { run, file } = await race(['gate', 'gate2'], ['--max-connections', '2', '--lock-timeout', '5s']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(await counts(file)).toEqual({ full_t: ROWS, wide: ROWS, inc: ROWS });
  });

  it('a TRUNCATE queued after the first reader locked, before another reader joined: that reader is dropped and the run reads on (regression: the reader queued behind the TRUNCATE, which waited for the run, until lock_timeout failed it, exit 3)', async () => {
    await fill();
    const file = path.join(dir, `queued-${Date.now()}.duckdb`);
    const proxy = await startTcpProxy();
    let truncate: Awaited<ReturnType<typeof concurrently>> | undefined;
    try {
      // the second reader stops just before joining the snapshot: the first holds its locks by then
      const joining = proxy.holdOnQuery(/SET TRANSACTION SNAPSHOT/);
      const running = runCli(
        ['--env', 'local', '--duckdb-path', file, '--dataset', DATASET, '--tables', 'full_t', 'wide', 'inc', '--max-connections', '3', '--lock-timeout', '5s', '--log-format', 'text'],
        { DATABASE_URL: proxy.url(db.name) },
      );
      const release = await joining;
      const t = (truncate = await concurrently('TRUNCATE full_t'));
      await waitFor('the TRUNCATE to wait for the run', () => blockedOrDone(t));
      expect(t.settled()).toBe(false);
      release();
      const run = await running;
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout + run.stderr).toMatch(
        /warning: another session is waiting for a conflicting lock on public\.full_t \(TRUNCATE, ALTER TABLE, …\) behind this run: reading with 1 of 3 source connections/,
      );
      expect(await duckQuery(file, `SELECT (SELECT count(*) FROM ${DATASET}.full_t)::INT AS full_t, (SELECT count(*) FROM ${DATASET}.wide)::INT AS wide`)).toEqual([
        { full_t: ROWS, wide: ROWS },
      ]);
      // the TRUNCATE ran once the run had ended
      await t.done;
      expect((await db.query(`SELECT count(*)::text AS n FROM full_t`))[0]!.n).toBe('0');
    } finally {
      await truncate?.session.end();
      await proxy.close();
    }
  });

  it('a table held by another session longer than --lock-timeout: exit 3 with the lock-timeout message, before anything is read', async () => {
    await fill();
    const holder = await connect(db.url);
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE wide IN ACCESS EXCLUSIVE MODE');
      const r = await runCli(['--env', 'local', '--duckdb-path', path.join(dir, 'timeout.duckdb'), '--dataset', DATASET, '--tables', 'full_t', 'wide', '--lock-timeout', '0.5s'], {
        DATABASE_URL: db.url,
      });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/Locking table public\.wide .*failed: canceling statement due to lock timeout/);
      expect(r.stderr).toMatch(/--lock-timeout/);
      expect(r.stdout).not.toMatch(/extracted/);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });

  it('--dry-run and --solo-validar take the same locks and change nothing', async () => {
    await fill();
    const file = path.join(dir, 'ro.duckdb');
    const base = ['--env', 'local', '--duckdb-path', file, '--dataset', DATASET, '--tables', 'full_t', 'wide'];
    expect((await runCli(base, { DATABASE_URL: db.url })).code).toBe(0);
    const holder = await connect(db.url);
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE wide IN ACCESS EXCLUSIVE MODE');
      for (const flag of ['--dry-run', '--solo-validar']) {
        const r = await runCli([...base, flag, '--lock-timeout', '0.5s'], { DATABASE_URL: db.url });
        expect(r.code, `${flag}: ${r.stderr}`).toBe(3);
        expect(r.stderr).toMatch(/Locking table public\.wide/);
      }
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    for (const flag of ['--dry-run', '--solo-validar']) {
      const r = await runCli([...base, flag], { DATABASE_URL: db.url });
      expect(r.code, `${flag}: ${r.stderr}`).toBe(0);
    }
  });
});
