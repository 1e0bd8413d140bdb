import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckQuery, duckTableDigest } from '../helpers/duckdb.js';
import { useDataVisionFixture } from '../helpers/fixture.js';
import { nonCamelCaseKeys } from '../helpers/naming.js';

const DATASET = 'raw_datavision_local';
const fx = useDataVisionFixture(150, 'quality');

interface Report {
  runId: string;
  env: string;
  dataset: string;
  startedAt: string;
  finishedAt: string;
  checks: { check: string; table: string; status: string; observed: unknown; expected: unknown; message: string; details?: Record<string, unknown> }[];
}

const ingest = (...args: string[]) => runCli(['--env', 'local', '--duckdb-path', fx.duckdbPath, ...args], { DATABASE_URL: fx.db.url });
const readReport = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Report;
const find = (r: Report, check: string, table: string) => r.checks.filter((c) => c.check === check && c.table === table);

/** Changes the raw layer directly, as a bug or a hand edit would. */
async function plant(file: string, ...statements: string[]): Promise<void> {
  const instance = await DuckDBInstance.create(file);
  const c = await instance.connect();
  try {
    for (const s of statements) await c.run(s);
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

describe('quality gate', () => {
  it('clean data passes after a load: 8 row counts, 8 duplicates, 7 relationships, freshness; JSON and HTML reports; results stored', async () => {
    const json = path.join(fx.dir, 'clean.json');
    const html = path.join(fx.dir, 'clean.html');
    const r = await ingest('--validar-calidad-datos', '--report-json', json, '--report-html', html);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('quality gate PASSED');
    const report = readReport(json);
    expect(report).toMatchObject({ env: 'local', dataset: DATASET });
    expect(Date.parse(report.finishedAt)).toBeGreaterThanOrEqual(Date.parse(report.startedAt));
    // one naming convention for what the library and its files expose: camelCase, details included (regression: the
    // report said run_id / started_at / max_value while the library's summary says runId / startedAt)
    expect(nonCamelCaseKeys(report)).toEqual([]);
    expect(nonCamelCaseKeys(report.checks.map((c) => (c as { details?: unknown }).details))).toEqual([]);
    const count = (check: string) => report.checks.filter((c) => c.check === check).length;
    expect(count('row_count')).toBe(8);
    expect(count('duplicates')).toBe(8);
    expect(count('referential_integrity')).toBe(7);
    expect(count('freshness')).toBe(8);
    for (const c of report.checks) {
      expect(['pass', 'skip'], `${c.check} ${c.table}: ${c.message}`).toContain(c.status);
      expect(Object.keys(c)).toEqual(expect.arrayContaining(['check', 'table', 'status', 'observed', 'expected', 'message']));
    }
    // the two tables without updated_at are skipped with the reason
    expect(find(report, 'freshness', 'subscription_payments')[0]).toMatchObject({ status: 'skip', message: expect.stringContaining('no freshness column') });
    const page = readFileSync(html, 'utf8');
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).toContain('PASSED');
    expect(page).toContain('Freshness per table');
    expect(page).not.toMatch(/<(script|link)[^>]+(src|href)=/); // self-contained
    const stored = await duckQuery(fx.duckdbPath, `SELECT count(*) AS n FROM ${DATASET}._ingesta_quality WHERE run_id = '${report.runId}'`);
    expect(Number(stored[0]!.n)).toBe(report.checks.length);
  });

  it('--solo-validar finds the four planted defects against their tables, exits 6, and writes nothing', async () => {
    await plant(
      fx.duckdbPath,
      `INSERT INTO ${DATASET}.contents SELECT * FROM ${DATASET}.contents WHERE content_id = 10`,
      `INSERT INTO ${DATASET}.content_attributes SELECT 99999999, 88888888, attribute_name, string_value, decimal_value, date_value, created_at, updated_at FROM ${DATASET}.content_attributes LIMIT 1`,
      `DELETE FROM ${DATASET}.accounts WHERE account_id IN (7, 8, 9)`,
      `UPDATE ${DATASET}.subscriptions SET updated_at = updated_at - INTERVAL 5 DAY`,
    );
    const digest = await duckTableDigest(fx.duckdbPath, DATASET, 'contents', 'content_id');
    const mtime = statSync(fx.duckdbPath).mtimeMs;
    const json = path.join(fx.dir, 'planted.json');
    const r = await ingest('--solo-validar', '--report-json', json);
    expect(r.code).toBe(6);
    expect(r.stderr).toContain('quality gate failed');
    // what a person reads (regression: a 33-row table with the FAIL rows mixed in, and a last line naming nothing):
    // failures first with their offending keys, passes collapsed to one line, a verdict and an error line naming the
    // failed checks and the report
    const out = r.stdout.trim().split('\n');
    const failLines = out.filter((l) => l.startsWith('FAIL  '));
    expect(failLines.length).toBeGreaterThanOrEqual(5);
    expect(out.indexOf(failLines[0]!)).toBeLessThan(out.findIndex((l) => l.startsWith('pass  ')));
    // the orphan is named by its own key (the row to fix) and the parent value it misses, not only by the latter
    expect(failLines.find((l) => l.startsWith('FAIL  referential_integrity  content_attributes: '))).toContain('attribute_id=99999999 → content_id=88888888');
    expect(out.filter((l) => /\bPASS\b/.test(l))).toEqual([]);
    expect(out.find((l) => l.startsWith('pass  '))).toMatch(/^pass  \d+ checks: row_count ×\d+, duplicates ×\d+/);
    expect(out.at(-1)).toMatch(/^quality gate FAILED: \d+ of \d+ checks failed \(.*\) — \d+ pass, 0 warn, \d+ fail, 2 skip$/);
    for (const name of ['duplicates contents', 'row_count accounts', 'referential_integrity content_attributes', 'freshness subscriptions']) expect(out.at(-1)).toContain(name);
    expect(r.stderr.trim()).toMatch(new RegExp(`^ingesta: error: The quality gate failed: \\d+ checks failed: .*duplicates contents.*\\. Report: ${json.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.$`));
    const quiet = await ingest('--solo-validar', '-q');
    expect(quiet.code).toBe(6);
    expect(quiet.stdout).not.toMatch(/^pass /m);
    expect(quiet.stdout).toMatch(/^FAIL  duplicates  contents: /m);
    const report = readReport(json);
    expect(find(report, 'duplicates', 'contents')[0]!.status).toBe('fail');
    expect(find(report, 'duplicates', 'contents')[0]!.message).toContain('10');
    const orphan = find(report, 'referential_integrity', 'content_attributes')[0]!;
    expect(orphan.status).toBe('fail');
    expect(orphan.message).toContain('attribute_id=99999999 → content_id=88888888');
    expect(orphan.details).toMatchObject({ examples: 'attribute_id=99999999 → content_id=88888888', missing: '88888888', declaredIn: 'catalog+source' });
    expect(find(report, 'row_count', 'accounts')[0]).toMatchObject({ status: 'fail', observed: 147, expected: 150 });
    expect(find(report, 'freshness', 'subscriptions')[0]!.status).toBe('fail');
    // deleting accounts also orphans their children: reported against the child tables
    expect(find(report, 'referential_integrity', 'contents')[0]!.status).toBe('fail');
    // read-only: nothing stored, file untouched
    expect(statSync(fx.duckdbPath).mtimeMs).toBe(mtime);
    expect(await duckTableDigest(fx.duckdbPath, DATASET, 'contents', 'content_id')).toBe(digest);
  });

  it('a source change since the last load is a warning in --solo-validar, not a failure', async () => {
    const r0 = await ingest('--full-refresh');
    expect(r0.code, r0.stderr).toBe(0);
    await fx.db.query(`INSERT INTO accounts VALUES (7001, 'late arrival', NULL, now(), now()), (7002, 'late arrival 2', NULL, now(), now())`);
    await fx.db.query(`INSERT INTO contents VALUES (7001, 7001, 'new', NULL, 'video', now(), now())`);
    const json = path.join(fx.dir, 'changed.json');
    const r = await ingest('--solo-validar', '--report-json', json);
    expect(r.code, r.stdout).toBe(0);
    const report = readReport(json);
    expect(find(report, 'row_count', 'accounts')[0]).toMatchObject({ status: 'warn', observed: 150, expected: 152 });
    expect(find(report, 'row_count', 'contents')[0]!.status).toBe('warn');
    expect(r.stdout).toContain('PASSED with warnings');
  });

  it('a load while the source is being written raises no false alarm', async () => {
    const { connect } = await import('../helpers/postgres.js');
    const writer = await connect(fx.db.url);
    let stop = false;
    const loop = (async () => {
      for (let i = 1; !stop; i += 1) {
        await writer.query('BEGIN');
        await writer.query(`INSERT INTO accounts VALUES (${800000 + i}, 'w', NULL, now(), now())`);
        await writer.query(`INSERT INTO contents VALUES (${800000 + i}, ${800000 + i}, 'w', NULL, 'video', now(), now())`);
        await writer.query(`INSERT INTO content_attributes VALUES (${800000 + i}, ${800000 + i}, 'Duración', NULL, 2.5, NULL, now(), now())`);
        await writer.query(`DELETE FROM subscription_payments WHERE payment_id = ${i}`);
        await writer.query('COMMIT');
      }
    })();
    let r;
    try {
      r = await ingest('--validar-calidad-datos');
    } finally {
      stop = true;
      await loop;
      await writer.end();
    }
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('quality gate PASSED');
  });

  it('catches a composite-key duplicate, a future timestamp, a stale naive timestamp in its zone, and catalog column checks', async () => {
    await fx.db.query(`CREATE TABLE enrolment (course_id int, student_id int, grade numeric(4,1), status text, seen_at timestamp, PRIMARY KEY (course_id, student_id))`);
    await fx.db.query(`CREATE TABLE events (id int PRIMARY KEY, happened_at timestamptz)`);
    await fx.db.query(`INSERT INTO enrolment VALUES (1, 1, 7.5, 'active', now() AT TIME ZONE 'America/Bogota'), (1, 2, 11.0, 'weird', now() AT TIME ZONE 'America/Bogota'), (2, 1, NULL, 'active', now() AT TIME ZONE 'America/Bogota')`);
    await fx.db.query(`INSERT INTO events VALUES (1, now() + interval '3 days')`);
    const catalog = path.join(fx.dir, 'q.yaml');
    writeFileSync(
      catalog,
      [
        'version: 1',
        'tables:',
        '  enrolment:',
        '    primary_key: [course_id, student_id]',
        '    freshness_column: seen_at',
        '    freshness_hours: 1',
        '    freshness_timezone: America/Bogota',
        '    checks:',
        '      - { column: grade, max: 10 }',
        '      - { column: grade, not_null: true, severity: warn }',
        '      - { column: status, accepted_values: [active, dropped] }',
        '      - { column: course_id, unique: true, severity: warn }',
        '  events:',
        '    primary_key: [id]',
        '    freshness_column: happened_at',
      ].join('\n'),
    );
    const file = path.join(fx.dir, 'q.duckdb');
    const args = ['--env', 'local', '--duckdb-path', file, '--catalog', catalog, '--dataset', 'qa'];
    const json = path.join(fx.dir, 'q.json');
    const first = await runCli([...args, '--validate', '--report-json', json], { DATABASE_URL: fx.db.url });
    expect(first.code).toBe(6);
    let report = readReport(json);
    // a naive timestamp written in Bogotá time is fresh when read in its zone (read as UTC it would look 5 h old)
    expect(find(report, 'freshness', 'enrolment')[0]!.status).toBe('pass');
    expect(find(report, 'freshness', 'events')[0]).toMatchObject({ status: 'warn', message: expect.stringContaining('in the future') });
    expect(find(report, 'max', 'enrolment')[0]).toMatchObject({ status: 'fail', observed: 1 });
    expect(find(report, 'not_null', 'enrolment')[0]).toMatchObject({ status: 'warn', observed: 1 });
    expect(find(report, 'accepted_values', 'enrolment')[0]).toMatchObject({ status: 'fail', message: expect.stringContaining('weird') });
    expect(find(report, 'unique', 'enrolment')[0]).toMatchObject({ status: 'warn', observed: 1 });
    expect(find(report, 'duplicates', 'enrolment')[0]!.status).toBe('pass');

    await plant(file, `INSERT INTO qa.enrolment SELECT * FROM qa.enrolment WHERE course_id = 2`);
    const second = await runCli([...args, '--validate-only', '--report-json', json], { DATABASE_URL: fx.db.url });
    expect(second.code).toBe(6);
    report = readReport(json);
    expect(find(report, 'duplicates', 'enrolment')[0]).toMatchObject({ status: 'fail', message: expect.stringContaining('(2, 1)') });
  });

  it('--solo-validar on a destination never loaded says so and creates nothing', async () => {
    const file = path.join(fx.dir, 'never.duckdb');
    const r = await runCli(['--env', 'local', '--duckdb-path', file, '--solo-validar'], { DATABASE_URL: fx.db.url });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('nothing has been loaded there yet');
    expect(existsSync(file)).toBe(false);
  });

  it('a report flag without the gate is a usage error', async () => {
    const r = await ingest('--report-json', path.join(fx.dir, 'x.json'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--validar-calidad-datos');
  });
});
