import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startLogicalCluster } from '../helpers/logical-cluster.js';
import type { PgCluster } from '../helpers/pg-cluster.js';

/**
 * Issue #14: `status` reads the source only when it needs to (a CDC slot's lag), and only when a setting says where
 * the source is. Regressions: without any source setting it tried libpq's defaults (the OS user on localhost); without
 * the catalog file in the working folder the slot was "skipped" for a catalog it did not need; what it skipped was a
 * line of its own outside the status report (missing from the JSON object).
 */
const DATASET = 'raw_status_src';
let cluster: PgCluster;
let url: string;
let dir: string;
let duckdbPath: string;

beforeAll(async () => {
  cluster = await startLogicalCluster();
  await cluster.exec('CREATE DATABASE shop');
  url = cluster.url('postgres', undefined, 'shop');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`CREATE TABLE orders (id int PRIMARY KEY, qty int NOT NULL)`);
  await client.query(`INSERT INTO orders SELECT g, g FROM generate_series(1, 50) g`);
  await client.end();
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-status-src-'));
  duckdbPath = path.join(dir, 's.duckdb');
  const load = await runCli(['--env', 'local', '--duckdb-path', duckdbPath, '--dataset', DATASET, '--tables', 'orders', '--cdc', '--no-schema-export'], { DATABASE_URL: url });
  expect(load.code, load.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const status = (env: Record<string, string>, ...args: string[]) => runCli(['status', '--env', 'local', '--duckdb-path', duckdbPath, ...args], env, dir);

describe('status and the source', () => {
  it('no source setting at all: the destination\'s status, and the CDC slot skipped without trying to connect', async () => {
    const r = await status({});
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^orders +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\d{8}T/m);
    expect(r.stdout.trim().split('\n').at(-1)).toBe(`skipped: the CDC slot of ${DATASET} (no source setting: --source-url or DATABASE_URL shows its lag)`);
    expect(r.stdout).not.toMatch(/cdc slot ingesta_/);

    const json = await status({}, '--log-format', 'json');
    expect(json.code, json.stderr).toBe(0);
    const [report, ...rest] = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; skipped?: string[] });
    expect(report).toMatchObject({ type: 'status', skipped: [`the CDC slot of ${DATASET} (no source setting: --source-url or DATABASE_URL shows its lag)`] });
    expect(rest).toEqual([]);
  });

  it('a source setting and no catalog file: the slot\'s lag (the dataset names the slot; no catalog needed)', async () => {
    const r = await status({ DATABASE_URL: url });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^cdc slot ingesta_raw_status_src_[0-9a-f]{12}: confirmed [0-9A-F]+\/[0-9A-F]+, lag /m);
    expect(r.stdout).not.toMatch(/CDC slot/);
    const viaFlag = await status({}, '--source-url', url, '--dataset', DATASET);
    expect(viaFlag.code, viaFlag.stderr).toBe(0);
    expect(viaFlag.stdout).toMatch(/^cdc slot ingesta_raw_status_src_/m);
  });

  it('a source that cannot be read: status still succeeds and says what it skipped and why', async () => {
    const r = await status({ DATABASE_URL: 'postgresql://nobody@127.0.0.1:9/shop?connect_timeout=2' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toMatch(new RegExp(`^skipped: the CDC slot of ${DATASET} \\(the source could not be read: .*127\\.0\\.0\\.1:9`));
  });
});
