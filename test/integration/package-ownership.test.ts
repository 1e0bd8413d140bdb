import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { DeleteObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { duckQuery } from '../helpers/duckdb.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { localPackageRoot, s3PackageRoot } from '../helpers/packages.js';
import { createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';

/**
 * Load packages belong to one destination: runs into other destinations that share a package folder (two DuckDB
 * files in one folder; dev/prod runs sharing the OS temp folder) never complete or remove each other's packages,
 * and a package whose run is still going is left alone.
 */
const DATASET = 'raw_datavision_local';
let db: TestDatabase;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDataVision(db, 20);
  // ~41 MB: a run reading it is still extracting when the test stops it
  await db.query(`CREATE TABLE big (id int PRIMARY KEY, payload text)`);
  await db.query(`INSERT INTO big SELECT g, repeat(md5(g::text), 13) FROM generate_series(1, 100000) g`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-owners-'));
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ingest = (file: string, args: string[], env: Record<string, string> = {}) =>
  runCli(['--env', 'local', '--duckdb-path', file, ...args], { DATABASE_URL: db.url, ...env });

const tablesOf = async (file: string) =>
  (await duckQuery(file, `SELECT table_name AS t FROM duckdb_tables() WHERE schema_name = '${DATASET}' AND table_name NOT LIKE '\\_ingesta%' ESCAPE '\\' ORDER BY 1`)).map((r) => String(r.t));

/** Every manifest.json under a folder, at any depth. */
function manifestsUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  return (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('manifest.json')).map((f) => path.join(root, f));
}

function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

describe('two DuckDB files in one folder', () => {
  it("a crashed run's package of sales.duckdb is not loaded into billing.duckdb (regression: billing received sales' tables)", async () => {
    const folder = path.join(dir, 'shared');
    mkdirSync(folder);
    const sales = path.join(folder, 'sales.duckdb');
    const billing = path.join(folder, 'billing.duckdb');
    const crashed = await ingest(sales, ['--tables', 'accounts'], { INGESTA_CRASH_AT: 'after-extract' });
    expect(crashed.signal).toBe('SIGKILL');
    // (the folder's packages, wherever under it: the test holds for the old layout too)
    expect(manifestsUnder(path.join(folder, '.ingesta'))).toHaveLength(1);

    const other = await ingest(billing, ['--tables', 'subscriptions']);
    expect(other.code, other.stderr).toBe(0);
    expect(other.stdout).not.toContain('leftover load package');
    expect(await tablesOf(billing)).toEqual(['subscriptions']);
    // sales' package is still there, in sales' own package folder, and sales' own next run completes it
    expect(manifestsUnder(path.join(folder, '.ingesta'))).toHaveLength(1);
    expect(manifestsUnder(localPackageRoot(sales, DATASET))).toHaveLength(1);
    const next = await ingest(sales, ['--tables', 'premium_features']);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toMatch(/leftover load package \S+: completed/);
    expect(await tablesOf(sales)).toEqual(['accounts', 'premium_features']);
    expect(manifestsUnder(localPackageRoot(sales, DATASET))).toEqual([]);
  });

  it("a live run's package is not deleted by a run on another file of the folder (regression: it was discarded under the running extraction)", async () => {
    const folder = path.join(dir, 'live');
    mkdirSync(folder);
    const sales = path.join(folder, 'sales.duckdb');
    const billing = path.join(folder, 'billing.duckdb');
    const child = spawn(process.execPath, [CLI, '--env', 'local', '--duckdb-path', sales, '--tables', 'big', '--no-schema-export'], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: db.url, INGESTA_LOG_FORMAT: 'text' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    // stop it as soon as its package exists: it is in the middle of extracting
    const packages = path.join(folder, '.ingesta', 'packages');
    const deadline = Date.now() + 60_000;
    while (manifestsUnder(packages).length === 0 && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 5));
    expect(manifestsUnder(packages), out).toHaveLength(1);
    child.kill('SIGSTOP');
    try {
      const other = await ingest(billing, ['--tables', 'subscriptions']);
      expect(other.code, other.stderr).toBe(0);
      expect(other.stdout).not.toContain('leftover load package');
      expect(manifestsUnder(packages)).toHaveLength(1);
    } finally {
      child.kill('SIGCONT');
    }
    expect(await exited, out).toBe(0);
    expect(Number((await duckQuery(sales, `SELECT count(*) AS n FROM ${DATASET}.big`))[0]!.n)).toBe(100000);
  });

  it('a package of this destination whose owner process is alive is left alone; once it is gone, it is discarded', async () => {
    const file = path.join(dir, 'owned', 'own.duckdb');
    const first = await ingest(file, ['--tables', 'accounts']);
    expect(first.code, first.stderr).toBe(0);
    // a package as a running ingesta would have it, owned by a live process
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    children.push(sleeper);
    const root = localPackageRoot(file, DATASET);
    const runId = '20000101T000000000Z-abcdef';
    mkdirSync(path.join(root, runId), { recursive: true });
    const manifest = {
      version: 1, runId, createdAt: new Date().toISOString(), env: 'local', dataset: DATASET,
      owner: { host: hostname(), pid: sleeper.pid, processStart: processStart(sleeper.pid!) },
      state: 'extracting', snapshotAt: undefined, tables: [],
    };
    writeFileSync(path.join(root, runId, 'manifest.json'), JSON.stringify(manifest));
    const r = await ingest(file, ['--tables', 'accounts']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`leftover load package ${runId}: left`);
    expect(existsSync(path.join(root, runId, 'manifest.json'))).toBe(true);

    sleeper.kill('SIGKILL');
    await new Promise((resolve) => sleeper.on('close', resolve));
    const after = await ingest(file, ['--tables', 'accounts']);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toContain(`leftover load package ${runId}: discarded`);
    expect(existsSync(path.join(root, runId))).toBe(false);
  });
});

describe('dev/prod runs sharing the OS temp folder', () => {
  it("a crashed run's package for one bucket/prefix is not loaded into another (regression: the temp folder's packages were shared by every dev/prod destination)", async () => {
    const temp = path.join(dir, 'tmp');
    mkdirSync(temp);
    const lakeA: Lakehouse = await startLakehouse(path.join(dir, 'lake-a'));
    const lakeB: Lakehouse = await startLakehouse(path.join(dir, 'lake-b'));
    try {
      // the default package folder (under the temp folder), which every dev/prod destination of a machine shares
      // (the lakehouse helper otherwise gives each lakehouse a folder of its own)
      const envA = lakeA.env(db.url, { TMPDIR: temp, BUCKET_URL: 's3://lake/raw_a', INGESTA_PACKAGE_DIR: '' });
      const envB = lakeB.env(db.url, { TMPDIR: temp, BUCKET_URL: 's3://lake/raw_b', INGESTA_PACKAGE_DIR: '' });
      const crashed = await runCli(['--env', 'dev', '--tables', 'accounts'], { ...envA, INGESTA_CRASH_AT: 'after-extract' });
      expect(crashed.signal, crashed.stderr).toBe('SIGKILL');
      const rootA = s3PackageRoot(path.join(temp, 'ingesta', 'packages'), 'lake', 'raw_a', 'raw_datavision_dev', lakeA.s3url);
      expect(manifestsUnder(path.join(temp, 'ingesta'))).toHaveLength(1);

      const other = await runCli(['--env', 'dev', '--tables', 'subscriptions'], envB);
      expect(other.code, other.stderr).toBe(0);
      expect(other.stdout).not.toContain('leftover load package');
      const inB = await lakeB.s3.send(new ListObjectsV2Command({ Bucket: 'lake', Prefix: 'raw_b/raw_datavision_dev/' }));
      const tablesInB = new Set((inB.Contents ?? []).map((o) => o.Key!.split('/')[2]).filter((t) => !t!.startsWith('_')));
      expect([...tablesInB]).toEqual(['subscriptions']);
      expect(manifestsUnder(path.join(temp, 'ingesta'))).toHaveLength(1);
      expect(manifestsUnder(rootA)).toHaveLength(1);

      // the killed run's dataset lock would hold for 5 minutes: it died, so remove it as its message says
      await lakeA.s3.send(new DeleteObjectCommand({ Bucket: 'lake', Key: 'raw_a/raw_datavision_dev/_ingesta/lock.json' }));
      const next = await runCli(['--env', 'dev', '--tables', 'subscriptions'], envA);
      expect(next.code, next.stderr).toBe(0);
      expect(next.stdout).toMatch(/leftover load package \S+: completed/);
      expect(manifestsUnder(rootA)).toEqual([]);
    } finally {
      await lakeA.stop();
      await lakeB.stop();
    }
  });
});
