import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { failedQueries, startAwsTap, type AwsTap } from '../helpers/aws-tap.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { expectAthenaEqualsSource } from '../helpers/athena-compare.js';
import { createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';
import { typingBegun } from '../helpers/packages.js';

/**
 * dev/prod faults: a proxy (test/helpers/aws-tap.ts) in front of the executing Glue/Athena stand-in fails a statement
 * or a Glue call, or lets another run take the lock over in the middle of a run. Each test loads its own dataset.
 */
let db: TestDatabase;
let dir: string;
let lake: Lakehouse;
let tap: AwsTap;
let n = 0;
let dataset = '';

function env(extra: Record<string, string> = {}): Record<string, string> {
  return lake.env(db.url, { AWS_ENDPOINT_URL_ATHENA: tap.url, AWS_ENDPOINT_URL_GLUE: tap.url, INGESTA_DATASET: dataset, ...extra });
}

async function listKeys(prefix: string): Promise<string[]> {
  const out = await lake.s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

async function readJson<T>(key: string): Promise<T | undefined> {
  try {
    return JSON.parse(await (await lake.s3.send(new GetObjectCommand({ Bucket: 'lake', Key: key }))).Body!.transformToString()) as T;
  } catch {
    return undefined;
  }
}

/** The Glue stand-in's table (names as Glue stores them: lower case). */
const glueTable = (table: string) => lake.aws.tables.get(`${dataset}.${table}`.toLowerCase());

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDataVision(db, 30);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-athena-faults-'));
  lake = await startLakehouse(dir);
  tap = await startAwsTap(lake.aws.url);
});

afterAll(async () => {
  await tap?.stop();
  await lake?.stop();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  n += 1;
  dataset = `raw_faults_${n}`;
  tap.rule = () => undefined;
  lake.proxy.clearFaults();
});

describe('dev/prod: recovering from what a crashed or stalled run left', () => {
  it('a run that failed after Glue CreateTable but before state.json does not leave the next run stuck on ADD COLUMNS of existing columns', async () => {
    const queries = failedQueries();
    // the first run's MERGE fails (any failure after CreateTable will do): the tables exist, state.json does not
    tap.rule = (op, input) =>
      op === 'GetQueryExecution' ? queries.status(input) : op === 'StartQueryExecution' && String(input.QueryString).startsWith('MERGE INTO') ? queries.refuse('INTERNAL_ERROR_QUERY_ENGINE: injected') : undefined;
    const failed = await runCli(['--env', 'dev', '--tables', 'contents', 'content_attributes'], env());
    expect(failed.code).toBe(5);
    expect(glueTable('contents')).toBeDefined();
    expect(await readJson(`raw/${dataset}/_ingesta/state.json`)).toBeUndefined();
    // the executing stand-in refuses ADD COLUMNS of an existing column (COLUMN_ALREADY_EXISTS), as Athena does
    tap.rule = () => undefined;
    const next = await runCli(['--env', 'dev', '--tables', 'contents', 'content_attributes'], env());
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).not.toContain('COLUMN_ALREADY_EXISTS');
    const state = await readJson<{ tables: Record<string, { runId: string }> }>(`raw/${dataset}/_ingesta/state.json`);
    expect(Object.keys(state!.tables).sort()).toEqual(['content_attributes', 'contents']);
  });

  it('a run whose lock another run took over in the middle stops before its next state-changing step, and leaves the other run\'s lock', async () => {
    const first = await runCli(['--env', 'dev', '--tables', 'contents', 'accounts'], env());
    expect(first.code, first.stderr).toBe(0);
    const stateBefore = await readJson<{ tables: Record<string, { runId: string }> }>(`raw/${dataset}/_ingesta/state.json`);
    await db.query(`UPDATE contents SET title = 'stalled', updated_at = now() WHERE content_id % 3 = 0`);
    const lockKey = `raw/${dataset}/_ingesta/lock.json`;
    const other = { run_id: 'other-run', host: 'task-2', pid: 42, started_at: new Date().toISOString(), heartbeat_at: new Date().toISOString() };
    let merges = 0;
    tap.rule = async (op, input) => {
      if (op === 'StartQueryExecution' && String(input.QueryString).startsWith('MERGE INTO')) {
        merges += 1;
        // this run stalled here past the stale time, and another run took its lock over
        await lake.s3.send(new PutObjectCommand({ Bucket: 'lake', Key: lockKey, Body: JSON.stringify(other) }));
      }
      return undefined;
    };
    const stalled = await runCli(['--env', 'dev', '--tables', 'contents', 'accounts'], env());
    expect(stalled.code, stalled.stderr).toBe(5);
    expect(stalled.stderr).toMatch(/lost its lock on raw_faults_\d+ \(now held by run other-run .*\) and stopped before/);
    expect(merges).toBe(1);
    // nothing after the MERGE: no state written, and the other run's lock is still there
    expect(await readJson(`raw/${dataset}/_ingesta/state.json`)).toEqual(stateBefore);
    expect((await readJson<{ run_id: string }>(lockKey))?.run_id).toBe('other-run');
  });

  it('clean-up never deletes the folder Glue reads when Glue cannot be listed (regression: it fell back to state.json\'s older folder and deleted the live one)', async () => {
    const first = await runCli(['--env', 'dev', '--tables', 'accounts', 'contents'], env());
    expect(first.code, first.stderr).toBe(0);
    const before = glueTable('accounts')!.location;
    // a run that repointed accounts, then failed (its MERGE of contents) before state.json: Glue reads a newer folder
    const queries = failedQueries();
    tap.rule = (op, input) =>
      op === 'GetQueryExecution' ? queries.status(input) : op === 'StartQueryExecution' && String(input.QueryString).startsWith('MERGE INTO') ? queries.refuse('INTERNAL_ERROR_QUERY_ENGINE: injected') : undefined;
    const failed = await runCli(['--env', 'dev', '--tables', 'accounts', 'contents'], env());
    expect(failed.code).toBe(5);
    expect(glueTable('accounts')!.location).not.toBe(before);
    const live = glueTable('accounts')!.location;
    const liveKeys = await listKeys(live.replace('s3://lake/', ''));
    expect(liveKeys.length).toBeGreaterThan(0);
    tap.rule = (op) => (op === 'GetTables' ? { error: 'AccessDeniedException', message: 'User is not authorized to perform: glue:GetTables' } : undefined);
    const next = await runCli(['--env', 'dev', '--tables', 'accounts'], env({ INGESTA_KEEP_SUPERSEDED: '0' }));
    expect(next.code, next.stderr).toBe(0);
    expect(await listKeys(live.replace('s3://lake/', ''))).toEqual(liveKeys);
    expect(next.stderr + next.stdout).toMatch(/clean-up skipped: the Glue tables of raw_faults_\d+ could not be listed/);
  });
});

describe('dev/prod: an Iceberg column keeps the type of its first load', () => {
  it('content_attributes.decimal_value stays DECIMAL; a later value with more decimals stops the run before anything is written (exit 4, table, column, key, never the value)', async () => {
    const first = await runCli(['--env', 'dev', '--tables', 'content_attributes'], env());
    expect(first.code, first.stderr).toBe(0);
    const typeOf = () => glueTable('content_attributes')!.columns.find((c) => c.name === 'decimal_value')!.type;
    const declared = typeOf();
    expect(declared).toMatch(/^decimal\(38,\d+\)$/);
    const scale = Number(/,(\d+)\)/.exec(declared)![1]);
    // ordinary data: another batch with fewer decimals is cast to the column's type
    const [row] = await db.query(`SELECT attribute_id FROM content_attributes WHERE decimal_value IS NOT NULL ORDER BY attribute_id LIMIT 1`);
    await db.query(`UPDATE content_attributes SET decimal_value = 5, updated_at = now() WHERE attribute_id = ${row!.attribute_id}`);
    const ordinary = await runCli(['--env', 'dev', '--tables', 'content_attributes'], env());
    expect(ordinary.code, ordinary.stderr).toBe(0);
    expect(typeOf()).toBe(declared);
    // a value with more decimals than the column keeps
    const statements = lake.aws.statements.length;
    const digits = `7.${'1'.repeat(scale + 3)}`;
    await db.query(`UPDATE content_attributes SET decimal_value = ${digits}, updated_at = now() WHERE attribute_id = ${row!.attribute_id}`);
    const misfit = await runCli(['--env', 'dev', '--tables', 'content_attributes'], env());
    expect(misfit.code, misfit.stderr).toBe(4);
    expect(misfit.stderr).toContain(`Table content_attributes, column decimal_value: the row with key (${row!.attribute_id})`);
    expect(misfit.stderr).toContain('--full-refresh content_attributes');
    expect(misfit.stderr).not.toContain(digits);
    // nothing was changed: at most the automatic reconciliation's reads (SELECT) reached Athena
    expect(lake.aws.statements.slice(statements).filter((q) => !q.startsWith('SELECT'))).toEqual([]);
    expect(typeOf()).toBe(declared);
    // the hint works: a full refresh rebuilds the table with the new type
    const refresh = await runCli(['--env', 'dev', '--tables', 'content_attributes', '--full-refresh', 'content_attributes'], env());
    expect(refresh.code, refresh.stderr).toBe(0);
    expect(typeOf()).not.toBe(declared);
  });
});

describe('dev/prod: key reconciliation (late commits, hard deletes)', () => {
  it('--reconcile in dev: a back-dated update is re-read and a deleted key removed, executed by the Athena stand-in; Athena then equals the source', async () => {
    const first = await runCli(['--env', 'dev', '--tables', 'contents'], env());
    expect(first.code, first.stderr).toBe(0);
    const [late] = await db.query(`SELECT content_id FROM contents ORDER BY content_id LIMIT 1`);
    const [gone] = await db.query(`SELECT content_id FROM contents ORDER BY content_id DESC LIMIT 1`);
    // a late commit no cursor window sees (back-dated), and a hard delete
    await db.query(`UPDATE contents SET title = 'committed late', updated_at = updated_at - interval '3 days' WHERE content_id = ${late!.content_id}`);
    await db.query(`DELETE FROM content_attributes WHERE content_id = ${gone!.content_id}`);
    await db.query(`DELETE FROM contents WHERE content_id = ${gone!.content_id}`);
    const r = await runCli(['--env', 'dev', '--tables', 'contents', '--reconcile', '--log-format', 'json'], env());
    expect(r.code, r.stderr).toBe(0);
    const event = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; refetched?: number; deleted?: number }).find((e) => e.type === 'table_reconciled');
    expect(event).toMatchObject({ refetched: 1, deleted: 1 });
    await expectAthenaEqualsSource(lake, db, dataset, 'contents', 'content_id', 'after --reconcile');
    // regression: before, --reconcile was refused in dev/prod (exit 2) and a hard delete stayed in the lakehouse
    expect([...lake.aws.tables.keys()].filter((k) => k.startsWith(`${dataset}.`) && k.endsWith('__ingesta_stage'))).toEqual([]);
  });
});

/** The lines of a failed run's stderr that are not Node's own warnings (the run's error is one of them). */
const errorLines = (stderr: string) => stderr.trim().split('\n').filter((l) => l !== '' && !/NodeVersionSupportWarning|^\s|^warning: Node /.test(l));

/** Folders (…/<run>/) holding objects under a prefix. */
const foldersUnder = async (prefix: string) => [...new Set((await listKeys(prefix)).map((k) => k.slice(0, k.lastIndexOf('/') + 1)))].sort();

const folderOf = (location: string) => `${location.replace('s3://lake/', '').replace(/\/?$/, '/')}`;

/** What a reader or the next run would see of the dataset: Glue tables (location, columns), state.json, staging tables. */
const published = async () => ({
  tables: [...lake.aws.tables.entries()].filter(([k]) => k.startsWith(`${dataset}.`)).map(([k, t]) => [k, t.location, JSON.stringify(t.columns)]).sort(),
  state: await readJson(`raw/${dataset}/_ingesta/state.json`),
});

describe('dev/prod: uploads overlap the typing of the next tables (#16), and a failed run publishes none of them', () => {
  const TABLES = ['--tables', 'accounts', 'contents', 'content_attributes'];

  it('a misfit in the last table after the earlier tables were uploaded: exit 4 in one line, nothing published; the folders left (their deletion refused here) are read by nothing and the next good run removes them', async () => {
    const first = await runCli(['--env', 'dev', ...TABLES], env());
    expect(first.code, first.stderr).toBe(0);
    const before = await published();
    const statements = lake.aws.statements.length;
    const [row] = await db.query(`SELECT attribute_id FROM content_attributes WHERE decimal_value IS NOT NULL ORDER BY attribute_id LIMIT 1`);
    // more decimals than the Iceberg column keeps
    const scale = Number(/,(\d+)\)/.exec(glueTable('content_attributes')!.columns.find((c) => c.name === 'decimal_value')!.type)![1]);
    await db.query(`UPDATE content_attributes SET decimal_value = 7.${'1'.repeat(scale + 3)}, updated_at = now() WHERE attribute_id = ${row!.attribute_id}`);
    await db.query(`UPDATE contents SET title = 'misfit round', updated_at = now() WHERE content_id % 4 = 0`);
    // content_attributes is checked (its Glue columns read) only once both earlier tables' files are in S3, and this
    // run's attempt to remove them afterwards is refused: what a run killed at that moment would leave
    const mark = lake.proxy.log.length;
    const uploadedBoth = () => ['accounts/data/', 'contents/batches/'].every((f) => lake.proxy.log.slice(mark).some((l) => l.startsWith(`PUT raw/${dataset}/${f}`) && l.endsWith(' 200')));
    let waited = 0;
    tap.rule = async (op, input) => {
      const started = Date.now();
      // (only the load's check, after its typing: the automatic reconciliation reads the table during the extract)
      if (op === 'GetTable' && input.Name === 'content_attributes' && typingBegun(path.join(dir, 'packages'), 'content_attributes')) {
        for (const end = started + 20_000; !uploadedBoth() && Date.now() < end; ) await sleep(20);
      }
      waited = Math.max(waited, Date.now() - started);
      return undefined;
    };
    lake.proxy.failDeletes(new RegExp(`^raw/${dataset}/(accounts/data|contents/batches)/`), 100);
    const misfit = await runCli(['--env', 'dev', ...TABLES], env());
    lake.proxy.clearFaults();
    tap.rule = () => undefined;
    expect(misfit.code, misfit.stderr).toBe(4);
    expect(uploadedBoth(), 'accounts and contents were uploaded before the misfit').toBe(true);
    expect(waited, 'the check of content_attributes waited for the uploads, not for the 20 s limit').toBeLessThan(20_000);
    expect(errorLines(misfit.stderr)).toEqual([expect.stringContaining(`Table content_attributes, column decimal_value: the row with key (${row!.attribute_id})`)]);
    // nothing published: the same Glue tables and state, no staging table, nothing but reads sent to Athena
    expect(await published()).toEqual(before);
    expect([...lake.aws.tables.keys()].filter((k) => k.startsWith(`${dataset}.`) && k.endsWith('__ingesta_stage'))).toEqual([]);
    expect(lake.aws.statements.slice(statements).filter((q) => !q.startsWith('SELECT'))).toEqual([]);
    // what the failed run left: a data folder no Glue table reads, a batch folder no staging table reads
    const liveAccounts = folderOf(lake.aws.tables.get(`${dataset}.accounts`)!.location);
    const leftData = (await foldersUnder(`raw/${dataset}/accounts/data/`)).filter((f) => f !== liveAccounts);
    const leftBatches = await foldersUnder(`raw/${dataset}/contents/batches/`);
    expect(leftData).toHaveLength(1);
    const failedRun = leftData[0]!.split('/').at(-2)!;
    expect(leftBatches).toContain(`raw/${dataset}/contents/batches/${failedRun}/`);
    expect((await readJson<{ status: string }>(`raw/${dataset}/_ingesta/runs/${failedRun}.json`))?.status).toBe('failed');

    // the source fixed: the next run loads, and its clean-up removes both folders of the failed run
    await db.query(`UPDATE content_attributes SET decimal_value = 5, updated_at = now() WHERE attribute_id = ${row!.attribute_id}`);
    const next = await runCli(['--env', 'dev', ...TABLES], env());
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout + next.stderr).toContain('contents: removed 1 batch folder(s) of runs that did not commit');
    expect(next.stdout + next.stderr).toContain('accounts: removed 1 data folder(s) no table reads');
    expect(await listKeys(`raw/${dataset}/accounts/data/${failedRun}/`)).toEqual([]);
    expect(await listKeys(`raw/${dataset}/contents/batches/${failedRun}/`)).toEqual([]);
    for (const [table, key] of [['accounts', 'account_id'], ['contents', 'content_id'], ['content_attributes', 'attribute_id']] as const) {
      await expectAthenaEqualsSource(lake, db, dataset, table, key, `after the misfit run: ${table}`);
    }
  });

  it('an upload refused mid-run (S3 AccessDenied on the second table\'s batch): exit 5 in one line, nothing published, the first table\'s uploaded folder removed', async () => {
    lake.proxy.refuse('PUT', new RegExp(`^raw/${dataset}/contents/batches/`), 100);
    const r = await runCli(['--env', 'dev', ...TABLES], env());
    lake.proxy.clearFaults();
    expect(r.code, r.stderr).toBe(5);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/refused a request \(HTTP 403, AccessDenied\).*Check the task role/)]);
    // nothing published (a first load: no table, no state), and nothing of the run left in S3 but its failure record
    expect([...lake.aws.tables.keys()].filter((k) => k.startsWith(`${dataset}.`))).toEqual([]);
    expect(await readJson(`raw/${dataset}/_ingesta/state.json`)).toBeUndefined();
    expect(lake.proxy.log.some((l) => l.startsWith(`PUT raw/${dataset}/accounts/data/`) && l.endsWith(' 200')), 'accounts was uploaded first').toBe(true);
    expect((await listKeys(`raw/${dataset}/`)).filter((k) => !k.includes('/_ingesta/runs/'))).toEqual([]);
    const runs = await listKeys(`raw/${dataset}/_ingesta/runs/`);
    expect(runs).toHaveLength(1);
    expect((await readJson<{ status: string }>(runs[0]!))?.status).toBe('failed');
    // the next run loads everything
    const next = await runCli(['--env', 'dev', ...TABLES], env());
    expect(next.code, next.stderr).toBe(0);
    await expectAthenaEqualsSource(lake, db, dataset, 'contents', 'content_id', 'after the refused upload');
  });
});
