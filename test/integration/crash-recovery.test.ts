import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATAVISION_TABLES } from '../../src/demo/datavision-generator.js';
import { runCli } from '../helpers/cli.js';
import { duckQuery, duckTableDigest, expectTablesEqualSource } from '../helpers/duckdb.js';
import { createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';
import { KEYS } from '../helpers/datavision.js';
import { localPackageRoot } from '../helpers/packages.js';

const DATASET = 'raw_datavision_local';

let db: TestDatabase;
let dir: string;
let duckdbPath: string;
let packages: string;

const ingest = (env: Record<string, string> = {}, ...args: string[]) =>
  runCli(['--env', 'local', '--duckdb-path', duckdbPath, ...args], { DATABASE_URL: db.url, ...env });

async function digests(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of [...DATAVISION_TABLES, '_ingesta_state'] as string[]) {
    out[t] = await duckTableDigest(duckdbPath, DATASET, t, t === '_ingesta_state' ? 'table_name' : KEYS[t]!);
  }
  return out;
}

async function expectEqualsSource(): Promise<void> {
  await expectTablesEqualSource(db, duckdbPath, DATASET, DATAVISION_TABLES.map((t) => [t, [KEYS[t]!]]));
}

async function changeSource(round: number): Promise<void> {
  await db.query(`UPDATE contents SET title = 'round ${round} ' || content_id, updated_at = now() WHERE content_id % 11 = ${round % 11}`);
  await db.query(`UPDATE content_attributes SET decimal_value = ${round}.5, updated_at = now() WHERE attribute_id % 13 = ${round % 13} AND attribute_name = 'Duración'`);
  await db.query(`DELETE FROM subscription_payments WHERE payment_id % 17 = ${round % 17}`);
  await db.query(`UPDATE accounts SET email = 'r${round}@example.com', updated_at = now() WHERE account_id % 5 = ${round % 5}`);
}

function leftoverPackages(): string[] {
  return existsSync(packages) ? readdirSync(packages) : [];
}

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDataVision(db, 200);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-crash-'));
  duckdbPath = path.join(dir, 'dv.duckdb');
  packages = localPackageRoot(duckdbPath, DATASET);
  const first = await ingest();
  expect(first.code, first.stderr).toBe(0);
});

afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a run killed at any step leaves the previous data and state intact, and the next run recovers', () => {
  it('killed after extraction: nothing visible changed; the next run completes the leftover package', async () => {
    await changeSource(1);
    const before = await digests();
    const killed = await ingest({ INGESTA_CRASH_AT: 'after-extract' });
    expect(killed.signal).toBe('SIGKILL');
    expect(await digests()).toEqual(before);
    const left = leftoverPackages();
    expect(left).toHaveLength(1);
    expect(JSON.parse(readFileSync(path.join(packages, left[0]!, 'manifest.json'), 'utf8')).state).toBe('extracted');

    await changeSource(2);
    const next = await ingest();
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toContain(`leftover load package ${left[0]}: completed`);
    expect(leftoverPackages()).toEqual([]);
    await expectEqualsSource();
  });

  it('killed during extraction: the partial package is discarded and says so', async () => {
    await changeSource(3);
    const before = await digests();
    const killed = await ingest({ INGESTA_CRASH_AT: 'during-extract' });
    expect(killed.signal).toBe('SIGKILL');
    expect(await digests()).toEqual(before);
    const left = leftoverPackages();
    expect(left).toHaveLength(1);

    const next = await ingest();
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toContain(`leftover load package ${left[0]}: discarded`);
    await expectEqualsSource();
  });

  it('killed inside the load transaction, before commit: data, cursors and load history are as before', async () => {
    await changeSource(4);
    const before = await digests();
    const runsBefore = await duckQuery(duckdbPath, `SELECT count(*) AS n FROM ${DATASET}._ingesta_runs`);
    const killed = await ingest({ INGESTA_CRASH_AT: 'before-commit' });
    expect(killed.signal).toBe('SIGKILL');
    expect(await digests()).toEqual(before);
    expect(await duckQuery(duckdbPath, `SELECT count(*) AS n FROM ${DATASET}._ingesta_runs`)).toEqual(runsBefore);

    const next = await ingest();
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toMatch(/leftover load package \S+: completed/);
    await expectEqualsSource();
  });

  it('killed after commit, before cleanup: the next run only removes the files', async () => {
    await changeSource(5);
    const killed = await ingest({ INGESTA_CRASH_AT: 'after-commit' });
    expect(killed.signal).toBe('SIGKILL');
    await expectEqualsSource();
    const next = await ingest();
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toMatch(/leftover load package \S+: removed/);
    expect(leftoverPackages()).toEqual([]);
    await expectEqualsSource();
  });
});
