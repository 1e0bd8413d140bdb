import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckQuery } from '../helpers/duckdb.js';
import { useDataVisionFixture } from '../helpers/fixture.js';

const fx = useDataVisionFixture(40, 'ops');
const where = () => ['--env', 'local', '--duckdb-path', fx.duckdbPath];

describe('operations: logs, status, reset', () => {
  it('off a terminal, logs are JSON lines, each with the run id (unless --log-format text)', async () => {
    const r = await runCli(where(), { DATABASE_URL: fx.db.url, INGESTA_LOG_FORMAT: '' });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; runId: string | null });
    const runId = lines.find((l) => l.type === 'run_started')!.runId;
    expect(runId).toMatch(/^\d{8}T\d+Z-[0-9a-f]{6}$/);
    for (const l of lines.slice(lines.findIndex((x) => x.type === 'run_started'))) expect(l.runId).toBe(runId);
    expect(lines.at(-1)!.type).toBe('run_finished');
    // a failure is one JSON line on stderr, naming host, port, database and user
    const failed = await runCli(where(), { PGHOST: '127.0.0.1', PGPORT: '1', PGDATABASE: 'dv', PGUSER: 'u', PGPASSWORD: 'hidden-pw', INGESTA_LOG_FORMAT: '' });
    expect(failed.code).toBe(3);
    expect(failed.stdout).toBe('');
    const error = JSON.parse(failed.stderr.trim()) as { type: string; message: string };
    expect(error.type).toBe('error');
    expect(error.message).toContain('host=127.0.0.1 port=1 database=dv user=u');
    expect(failed.stderr).not.toContain('hidden-pw');
  });

  it('--quiet prints only the final line; --verbose adds each table', async () => {
    const quiet = await runCli([...where(), '--quiet'], { DATABASE_URL: fx.db.url });
    expect(quiet.code).toBe(0);
    expect(quiet.stdout.trim().split('\n')).toHaveLength(1);
    expect(quiet.stdout).toMatch(/^run \S+ loaded 8 tables in/);
    const verbose = await runCli([...where(), '--verbose'], { DATABASE_URL: fx.db.url });
    expect(verbose.stdout).toContain('loaded contents:');
    expect(verbose.stdout).toContain('reading contents (incremental) where');
  });

  it('status shows each table with its last load, mode, rows, cursor and freshness, and the last runs', async () => {
    const r = await runCli(['status', ...where()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('raw_datavision_local');
    expect(r.stdout).toMatch(/contents\s+\S+ \S+\s+\S+\s+incremental/);
    expect(r.stdout).toContain('updated_at = ');
    expect(r.stdout).toMatch(/accounts .*pass \(/);
    expect(r.stdout).toContain('last runs');
    const json = await runCli(['status', ...where(), '--log-format', 'json']);
    const status = (JSON.parse(json.stdout) as { datasets: { tables: { table: string }[]; runs: { status: string }[] }[] }).datasets[0]!;
    expect(status.tables.map((t) => t.table)).toContain('content_attributes');
    expect(status.runs[0]!.status).toBe('loaded');
  });

  it('reset forgets the cursor: the next run reloads that table in full, then is incremental again', async () => {
    const r = await runCli(['reset', ...where(), '--tables', 'contents', 'accounts']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('forgot the incremental state of contents');
    expect(r.stdout).toContain('no incremental state for accounts');
    const state = await duckQuery(fx.duckdbPath, `SELECT table_name FROM raw_datavision_local._ingesta_state ORDER BY 1`);
    expect(state.map((s) => s.table_name)).toEqual(['content_attributes']);
    const next = await runCli(where(), { DATABASE_URL: fx.db.url });
    expect(next.code).toBe(0);
    const modes = await duckQuery(
      fx.duckdbPath,
      `SELECT table_name, mode FROM raw_datavision_local._ingesta_loads WHERE run_id = (SELECT max(run_id) FROM raw_datavision_local._ingesta_runs) ORDER BY 1`,
    );
    expect(modes.find((m) => m.table_name === 'contents')!.mode).toBe('full');
    expect(modes.find((m) => m.table_name === 'content_attributes')!.mode).toBe('incremental');
  });

  it('status and reset explain a destination that was never loaded', async () => {
    const r = await runCli(['status', '--env', 'local', '--duckdb-path', path.join(fx.dir, 'none.duckdb')]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('nothing has been loaded there yet');
    const reset = await runCli(['reset', '--env', 'local', '--duckdb-path', path.join(fx.dir, 'none2.duckdb')]);
    expect(reset.code).toBe(2);
  });
});
