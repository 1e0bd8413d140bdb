import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { pacedReader, type PacedReader } from '../helpers/paced-reader.js';
import { connect, createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * Issue #14: the phases that were silent for minutes on a big table. A load or a commit emits a heartbeat
 * (phase_progress) every INGESTA_PROGRESS_INTERVAL; a reconciliation's key scan, a column backfill's read and
 * --solo-validar's counts are phases of their own (phase_started, heartbeats with rows, phase_finished). `slow` is
 * read through a row-level-security policy that pauses 0.05 s every 5,000 rows, so each scan lasts about 0.4 s.
 */
let db: TestDatabase;
let dir: string;
let reader: PacedReader | undefined;
let url: string;
let catalog: string;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.query(`
    CREATE TABLE slow (id bigint PRIMARY KEY, name text, updated_at timestamptz NOT NULL);
    INSERT INTO slow SELECT g, 'name ' || g, now() - interval '2 days' FROM generate_series(1, 40000) g;
    ANALYZE slow;
    CREATE TABLE bulk (id bigint PRIMARY KEY, a text, b text, c numeric(14,2));
    INSERT INTO bulk SELECT g, md5(g::text), repeat('x', 40) || g, g * 1.25 FROM generate_series(1, 250000) g;
    ANALYZE bulk;`);
  reader = await pacedReader(db, 'ingesta_phase', { paced: ['slow'], plain: ['bulk'], every: 5000, seconds: 0.05 });
  url = reader.url;
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-phase-'));
  catalog = path.join(dir, 'c.yaml');
  writeFileSync(
    catalog,
    [
      'version: 1',
      'tables:',
      '  slow:',
      '    primary_key: [id]',
      '    write_disposition: merge',
      '    incremental: { cursor_column: updated_at }',
      '  bulk:',
      '    primary_key: [id]',
      '',
    ].join('\n'),
  );
}, 120_000);

afterAll(async () => {
  await db?.drop();
  await reader?.drop();
  rmSync(dir, { recursive: true, force: true });
});

type Event = Record<string, unknown> & { type: string; time: string };
const ingest = (args: string[], env: Record<string, string> = {}) =>
  runCli(['--env', 'local', '--duckdb-path', path.join(dir, 'p.duckdb'), '--catalog', catalog, '--dataset', 'phase_t', '--no-schema-export', ...args], {
    DATABASE_URL: url,
    INGESTA_PROGRESS_INTERVAL: '0.1s',
    ...env,
  });
const jsonEvents = (stdout: string) => stdout.trim().split('\n').map((l) => JSON.parse(l) as Event);

/** The heartbeats of one phase: documented fields, elapsed time growing, at least the interval apart. */
function expectHeartbeats(events: readonly Event[], phase: string, table: string | undefined): Event[] {
  const beats = events.filter((e) => e.type === 'phase_progress' && e.phase === phase && e.table === table);
  expect(beats.length, JSON.stringify(events.map((e) => [e.type, e.phase, e.table]))).toBeGreaterThanOrEqual(1);
  for (const [i, e] of beats.entries()) {
    expect(Object.keys(e).sort()).toEqual(['ms', 'percent', 'phase', 'rows', 'runId', 'time', 'type', ...(table ? ['table'] : [])].sort());
    expect(e.ms).toBeGreaterThanOrEqual(80);
    if (i > 0) expect((e.ms as number) - (beats[i - 1]!.ms as number)).toBeGreaterThanOrEqual(80);
  }
  return beats;
}

describe('heartbeats and the phases that used to be silent', () => {
  it('a long load into DuckDB emits phase_progress at the interval with elapsed ms (DuckDB\'s % where it tells); the live and plain lines are unit-tested (progress-output)', async () => {
    const r = await ingest(['--tables', 'bulk'], { INGESTA_LOG_FORMAT: 'json' });
    expect(r.code, r.stderr).toBe(0);
    const events = jsonEvents(r.stdout);
    const beats = [...events.filter((e) => e.type === 'phase_progress' && (e.phase === 'load' || e.phase === 'commit'))];
    expect(beats.length, r.stdout).toBeGreaterThanOrEqual(1);
    expectHeartbeats(events, beats[0]!.phase as string, beats[0]!.table as string | undefined);
    for (const e of beats) {
      if (e.rows !== null) expect(e.rows).toBeGreaterThanOrEqual(0);
      if (e.percent !== null) expect(e.percent).toBeLessThanOrEqual(99);
    }
    // every heartbeat of the load falls between its start and its end
    const order = events.map((e) => `${e.type}:${String(e.phase ?? '')}`);
    const first = order.indexOf(`phase_progress:${String(beats[0]!.phase)}`);
    expect(first).toBeGreaterThan(order.indexOf(beats[0]!.phase === 'load' ? 'table_load_started:' : 'commit_started:'));
    expect(first).toBeLessThan(order.indexOf(beats[0]!.phase === 'load' ? 'table_load_finished:' : 'commit_finished:'));

  });

  it('a key scan, the key comparison and a backfill read: phase_started with the estimate, heartbeats with rows, phase_finished with the exact count', async () => {
    expect((await ingest(['--tables', 'slow'])).code).toBe(0);
    const admin = await connect(db.url);
    await admin.query(`ALTER TABLE slow ADD COLUMN tier text DEFAULT 'basic'`);
    await admin.end();
    const r = await ingest(['--tables', 'slow', '--reconcile', 'slow'], { INGESTA_LOG_FORMAT: 'json' });
    expect(r.code, r.stderr).toBe(0);
    const events = jsonEvents(r.stdout);
    for (const phase of ['key_scan', 'backfill']) {
      expect(events.find((e) => e.type === 'phase_started' && e.phase === phase)).toMatchObject({ table: 'slow', estimatedRows: 40_000 });
      const beats = expectHeartbeats(events, phase, 'slow');
      const counted = beats.filter((e) => e.rows !== null).map((e) => e.rows as number);
      expect(counted.length, phase).toBeGreaterThanOrEqual(1);
      expect([...counted].sort((a, b) => a - b)).toEqual(counted);
      expect(events.find((e) => e.type === 'phase_finished' && e.phase === phase)).toMatchObject({ table: 'slow', rows: 40_000 });
    }
    const order = events.map((e) => (e.type.startsWith('phase_') ? `${e.type}:${String(e.phase)}` : e.type)).filter((t) => !t.startsWith('phase_progress'));
    // then the comparison in DuckDB and the re-read of what it returns (nothing here): a phase of its own, before the line
    expect(events.find((e) => e.type === 'phase_started' && e.phase === 'key_diff')).toMatchObject({ table: 'slow', estimatedRows: null });
    expect(events.find((e) => e.type === 'phase_finished' && e.phase === 'key_diff')).toMatchObject({ table: 'slow', rows: 0 });
    expect(order.indexOf('phase_finished:key_scan')).toBeLessThan(order.indexOf('phase_started:key_diff'));
    expect(order.indexOf('phase_finished:key_diff')).toBeLessThan(order.indexOf('table_reconciled'));
    expect(order.indexOf('phase_finished:backfill')).toBeLessThan(order.indexOf('table_backfilled'));
  });

  it('--solo-validar: each source count is a phase with a heartbeat, then the gate; text says what it counted', async () => {
    const r = await ingest(['--tables', 'slow', '--solo-validar'], { INGESTA_LOG_FORMAT: 'json' });
    expect([0, 6], r.stderr).toContain(r.code);
    const events = jsonEvents(r.stdout);
    expect(events.find((e) => e.type === 'phase_started' && e.phase === 'source_count')).toMatchObject({ table: 'slow', estimatedRows: 40_000 });
    const beats = expectHeartbeats(events, 'source_count', 'slow');
    expect(beats.every((e) => e.rows === null && e.percent === null)).toBe(true);
    expect(events.find((e) => e.type === 'phase_finished' && e.phase === 'source_count')).toMatchObject({ table: 'slow', rows: 40_000 });
    const types = events.map((e) => e.type);
    expect(types.indexOf('phase_finished')).toBeLessThan(types.indexOf('quality_started'));

    const text = await ingest(['--tables', 'slow', '--solo-validar', '--log-format', 'text']);
    expect(text.stdout).toMatch(/^ {2}slow {2}counting source rows… \d+ s$/m);
    expect(text.stdout).toMatch(/^ {2}counted slow: 40,000 rows in the source in [\d.]+ m?s$/m);
  });
});
