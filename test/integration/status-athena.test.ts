import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/** `ingesta status` and `reset` in dev: S3 + the executing Athena stand-in (issue 14). */
let db: TestDatabase;
let dir: string;
let lake: Lakehouse;
let catalog: string;

/** The dev settings without any source variable: status and reset never read the source. */
const awsOnly = (extra: Record<string, string> = {}) => {
  const { DATABASE_URL: _unused, ...env } = lake.env('');
  return { ...env, ...extra };
};

beforeAll(async () => {
  db = await createTestDatabase('ingesta_status_athena');
  await db.query(`CREATE TABLE items (id int PRIMARY KEY, name text)`);
  await db.query(`INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 12) g`);
  await db.query(`CREATE TABLE visits (id int PRIMARY KEY, day date, updated_at timestamp)`);
  // one row per hour: the second run re-reads only the newest old row (the lag window) and the 3 new ones
  await db.query(`INSERT INTO visits SELECT g, DATE '2024-01-01' + g, now() - interval '2 days' - g * interval '1 hour' FROM generate_series(1, 20) g`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-status-athena-'));
  lake = await startLakehouse(dir);
  catalog = path.join(dir, 'c.yaml');
  writeFileSync(
    catalog,
    [
      'version: 1',
      'tables:',
      '  items:',
      '    primary_key: [id]',
      '  visits:',
      '    primary_key: [id]',
      '    write_disposition: merge',
      '    incremental: { cursor_column: updated_at }',
      "    checks: [{ column: day, max: '2024-01-10' }]",
    ].join('\n'),
  );
}, 60_000);

afterAll(async () => {
  await lake?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const load = (...extra: string[]) => runCli(['--env', 'dev', '--catalog', catalog, ...extra], lake.env(db.url));
const status = (env: Record<string, string>, ...extra: string[]) => runCli(['status', '--env', 'dev', ...extra], env);
/** The status object of --log-format json (the last line: a Node support warning may come first). */
const statusJson = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!) as { datasets: { tables: { table: string; cursorValue: string | null }[] }[] };

describe('status and reset on S3 + Athena', () => {
  it('shows the last gate, rows now (counted in Athena) beside the last run rows, and the gate-failed run; without QUERY_RESULT_BUCKET it says what it skipped', async () => {
    const first = await load('--validar-calidad-datos');
    expect(first.code, first.stderr).toBe(6);
    await db.query(`INSERT INTO visits SELECT g, DATE '2024-01-01', now() - interval '1 hour' FROM generate_series(21, 23) g`);
    const second = await load();
    expect(second.code, second.stderr).toBe(0);

    const r = await status(awsOnly());
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    // (before it, on Node 20, the one-line Node support warning every dev/prod command prints)
    expect(lines.find((l) => l.startsWith('s3://'))).toBe('s3://lake/raw (dev): dataset raw_dev');
    expect(lines.find((l) => l.startsWith('visits '))).toMatch(/^visits\s+\S+ \S+\s+\S+\s+merge\s+23\s+4\s+updated_at = .*FAIL \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+max$/);
    expect(lines.find((l) => l.startsWith('items '))).toMatch(/^items\s+\S+ \S+\s+\S+\s+replace\s+12\s+12\s+PASS/);
    const runs = lines.filter((l) => /^\d{8}T/.test(l));
    expect(runs).toHaveLength(2);
    expect(runs[0]).toMatch(/^\S+\s+loaded\s+\d{4}/);
    expect(runs[1]).toMatch(/loaded, gate FAILED .*failed checks: max visits/);
    expect(r.stdout).not.toContain('skipped');

    const noAthena = await status(awsOnly({ QUERY_RESULT_BUCKET: '' }));
    expect(noAthena.code, noAthena.stderr).toBe(0);
    expect(noAthena.stdout.trim().split('\n').at(-1)).toBe(
      'skipped: Athena queries: freshness and current row counts of merge tables (QUERY_RESULT_BUCKET is not set)',
    );
    // the Parquet table's count is exact without Athena; the Iceberg table's is left empty, never the last run's
    expect(noAthena.stdout).toMatch(/^items\s+\S+ \S+\s+\S+\s+replace\s+12\s+12\s/m);
    expect(noAthena.stdout).toMatch(/^visits\s+\S+ \S+\s+\S+\s+merge\s+4\s+updated_at/m);
    expect(noAthena.stdout).toMatch(/^visits .*FAIL/m);
  });

  it('an unknown dataset is exit 2 naming those under BUCKET_URL; without BUCKET_URL it names what is missing, never a source variable', async () => {
    const unknown = await status(awsOnly(), '--dataset', 'raw_prod');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim()).toBe(
      'ingesta: error: Unknown dataset "raw_prod": s3://lake/raw holds no such dataset. Datasets there (1): raw_dev. ' +
        'Name one with --dataset (INGESTA_DATASET), or leave it out to see them all.',
    );
    const bare = await status({});
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('needs these environment variables, which are not set: BUCKET_URL');
    expect(bare.stderr).not.toMatch(/DATABASE|PGHOST/);
  });

  it('reset refuses a mistyped table (exit 2, state.json unchanged) and forgets a real cursor without any source variable', async () => {
    const typo = await runCli(['reset', '--env', 'dev', '--catalog', catalog, '--tables', 'vistis'], awsOnly());
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('Unknown table "vistis": not in the catalog and not in dataset raw_dev. Did you mean visits for "vistis"?');
    expect(typo.stderr).toContain('Tables in dataset raw_dev (2): items, visits.');
    const before = await status(awsOnly(), '--log-format', 'json');
    const cursor = statusJson(before.stdout).datasets[0]!.tables.find((t) => t.table === 'visits')!;
    expect(cursor.cursorValue).not.toBeNull();
    const ok = await runCli(['reset', '--env', 'dev', '--catalog', catalog, '--tables', 'visits'], awsOnly({ QUERY_RESULT_BUCKET: '' }));
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('forgot the incremental state of visits in raw_dev');
    const after = await status(awsOnly(), '--log-format', 'json');
    expect(statusJson(after.stdout).datasets[0]!.tables.find((t) => t.table === 'visits')!.cursorValue).toBeNull();
  });
});
