import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { expectAthenaEqualsSource } from '../helpers/athena-compare.js';
import { startLakehouse, type Lakehouse } from '../helpers/lakehouse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * The quality gate on Athena: every check is sent to the executing stand-in, which parses it with Trino's grammar,
 * type-checks it as Trino does and runs it; the findings are what Athena would return.
 */
const DATASET = 'qa_athena';
let db: TestDatabase;
let dir: string;
let lake: Lakehouse;

interface Report {
  checks: { check: string; table: string; status: string; observed: unknown; message: string }[];
}

beforeAll(async () => {
  db = await createTestDatabase('ingesta_gate_athena');
  await db.query(`CREATE TABLE readings (id int PRIMARY KEY, day date, at timestamp, grade numeric(4,1), status text)`);
  await db.query(`INSERT INTO readings VALUES
    (1, '2024-03-01', '2024-03-01 10:00:00.123456', 7.5, 'active'),
    (2, '2019-12-31', '2024-03-02 10:00:00', 9.0, 'dropped'),
    (3, '2024-03-03', '2031-01-01 00:00:00.5', 11.0, 'weird')`);
  await db.query(`CREATE TABLE visits (id int PRIMARY KEY, day date, updated_at timestamp)`);
  await db.query(`INSERT INTO visits VALUES (1, '2024-01-01', now() - interval '1 hour'), (2, '2026-01-01', now() - interval '2 hours')`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-gate-athena-'));
  lake = await startLakehouse(dir);
  writeFileSync(
    path.join(dir, 'q.yaml'),
    [
      'version: 1',
      'tables:',
      '  readings:',
      '    primary_key: [id]',
      '    checks:',
      "      - { column: day, min: '2020-01-01' }",
      "      - { column: at, max: '2030-01-01 00:00:00' }",
      '      - { column: grade, max: 10 }',
      '      - { column: status, accepted_values: [active, dropped] }',
      '  visits:',
      '    primary_key: [id]',
      '    write_disposition: merge',
      '    incremental: { cursor_column: updated_at }',
      "    checks: [{ column: day, max: '2025-12-31' }]",
    ].join('\n'),
  );
}, 60_000);

afterAll(async () => {
  await lake?.stop();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('quality gate on Athena (executing stand-in)', () => {
  it('checks that compare a date or timestamp column with a bound run on Athena (typed literals, not strings Trino refuses) and find the rows', async () => {
    const json = path.join(dir, 'q.json');
    const r = await runCli(['--env', 'dev', '--catalog', path.join(dir, 'q.yaml'), '--dataset', DATASET, '--validar-calidad-datos', '--report-json', json], lake.env(db.url));
    expect(r.code, r.stderr + r.stdout).toBe(6);
    const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
    const find = (check: string, table: string) => report.checks.find((c) => c.check === check && c.table === table && c.status !== 'skip');
    for (const c of report.checks) expect(c.message, `${c.check} ${c.table}`).not.toMatch(/could not run/);
    expect(report.checks.filter((c) => c.check === 'min' && c.table === 'readings')).toMatchObject([{ status: 'fail', observed: 1 }]);
    expect(report.checks.filter((c) => c.check === 'max' && c.table === 'readings').map((c) => c.observed)).toEqual([1, 1]);
    expect(find('accepted_values', 'readings')).toMatchObject({ status: 'fail', observed: 1, message: expect.stringContaining('weird') });
    expect(find('max', 'visits')).toMatchObject({ status: 'fail', observed: 1 });
    expect(find('row_count', 'readings')).toMatchObject({ status: 'pass', observed: 3 });
    expect(find('duplicates', 'visits')).toMatchObject({ status: 'pass' });
    // and the tables themselves, as an Athena reader sees them
    await expectAthenaEqualsSource(lake, db, DATASET, 'readings', 'id');
    await expectAthenaEqualsSource(lake, db, DATASET, 'visits', 'id');
  });

  it('the HTML report reads its history from the run and quality records in S3: both runs, rows and loads per table, failures per run', async () => {
    await db.query(`INSERT INTO visits VALUES (3, '2024-02-01', now() - interval '30 minutes')`);
    const html = path.join(dir, 'q.html');
    const r = await runCli(['--env', 'dev', '--catalog', path.join(dir, 'q.yaml'), '--dataset', DATASET, '--validar-calidad-datos', '--report-html', html], lake.env(db.url));
    expect(r.code, r.stderr + r.stdout).toBe(6);
    expect(r.stdout + r.stderr).not.toContain('has no history');
    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/<h2>Over the last 2 runs/);
    const row = (table: string) => new RegExp(`<tr data-table="${table}"[^]*?</tr>`).exec(page)![0];
    const titles = (svg: string) => [...svg.matchAll(/<title>([^<]*)<\/title>/g)].map((m) => m[1]!);
    const charts = (table: string) => row(table).split('<svg').slice(1);
    // rows in the destination per run (the row_count check), and the rows each run loaded (the run record)
    expect(titles(charts('visits')[0]!).map((t) => t.replace(/^.*: /, ''))).toEqual(['2 rows', '3 rows']);
    // the second run re-reads its window (updated_at >= cursor − lag): the new row and the one at the old cursor
    expect(titles(charts('visits')[1]!).map((t) => t.replace(/^.*: /, ''))).toEqual(['2 rows loaded', '2 rows loaded']);
    expect(titles(charts('readings')[0]!).map((t) => t.replace(/^.*: /, ''))).toEqual(['3 rows', '3 rows']);
    // both runs' gates failed (the planted out-of-range values): a red bar each
    const failures = /<div class="failures">[^]*?<\/svg>/.exec(page)![0];
    expect(titles(failures).map((t) => t.replace(/^.*: /, ''))).toEqual([expect.stringMatching(/^[1-9]\d* failed/), expect.stringMatching(/^[1-9]\d* failed/)]);
  });
});
