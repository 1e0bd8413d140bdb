import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, dryRun, run, type PipelineEvent } from '../../src/index.js';
import { createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';

/** The library's dry run writes nothing, as the CLI's --dry-run. */
let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDataVision(db, 10);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-lib-dry-'));
});

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const options = (file: string) => ({ env: 'local' as const, tables: ['accounts', 'contents'], duckdbPath: file, sourceUrl: db.url, schemaExport: false as const });

describe('library API: dryRun', () => {
  it('run({ dryRun: true }) writes nothing: no DuckDB file, no package (regression: it performed a real load)', async () => {
    const file = path.join(dir, 'run-dry', 'x.duckdb');
    await expect(run({ ...options(file), dryRun: true }, { env: {} })).rejects.toBeInstanceOf(ConfigError);
    expect(existsSync(file), 'the DuckDB file was created').toBe(false);
    expect(existsSync(path.dirname(file)), 'the DuckDB folder (and its package folder) was created').toBe(false);
  });

  it('dryRun() returns the plan (tables, modes, SELECTs, steps) and writes nothing', async () => {
    const file = path.join(dir, 'plan', 'x.duckdb');
    const events: string[] = [];
    const plan = await dryRun(options(file), { env: {}, onEvent: (e: PipelineEvent) => events.push(e.type) });
    expect(plan.tables.map((t) => [t.table, t.mode])).toEqual([['accounts', 'full'], ['contents', 'full']]);
    expect(plan.tables[0]!.select).toContain('accounts');
    expect(plan.tables[0]!.steps.length).toBeGreaterThan(0);
    expect(events).toContain('dry_run');
    expect(existsSync(path.dirname(file))).toBe(false);
  });
});
