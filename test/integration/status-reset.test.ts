import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { duckQuery } from '../helpers/duckdb.js';
import { useDataVisionFixture } from '../helpers/fixture.js';

const fx = useDataVisionFixture(40, 'status');
const GATE_LOCK = 5151;
let catalog: string;
const file = () => path.join(fx.dir, 'shop.duckdb');
/** A load with a catalog whose dataset is shop_local (not the default raw_datavision_local) and a check that fails. */
const load = (...extra: string[]) => runCli(['--env', 'local', '--duckdb-path', file(), '--catalog', catalog, ...extra], { DATABASE_URL: fx.db.url });
const status = (...extra: string[]) => runCli(['status', '--env', 'local', '--duckdb-path', file(), ...extra]);

beforeAll(async () => {
  catalog = path.join(fx.dir, 'shop.yaml');
  writeFileSync(
    catalog,
    [
      'version: 1',
      'dataset_prefix: shop',
      'tables:',
      '  accounts:',
      '    primary_key: [account_id]',
      '    write_disposition: replace',
      '    freshness_column: updated_at',
      '  contents:',
      '    primary_key: [content_id]',
      '    write_disposition: merge',
      '    incremental: { cursor_column: updated_at }',
      '    freshness_column: updated_at',
      '    checks:',
      '      - { column: content_id, max: 5 }',
      '',
    ].join('\n'),
  );
});

const stateRows = async () => (await duckQuery(file(), 'SELECT table_name, cursor_value FROM shop_local._ingesta_state ORDER BY 1')).map((r) => `${String(r.table_name)}=${String(r.cursor_value)}`);

describe('ingesta status tells the truth; reset has no traps (issue 14)', () => {
  it('shows the last gate per table and its failed checks; a run whose gate failed never reads as a plain "loaded" (regression: status said loaded after exit 6)', async () => {
    const run = await load('--validar-calidad-datos');
    expect(run.code, run.stderr).toBe(6);
    const r = await status();
    expect(r.code, r.stderr).toBe(0);
    const contents = r.stdout.split('\n').find((l) => l.startsWith('contents '))!;
    expect(contents).toMatch(/FAIL \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+max$/);
    expect(r.stdout.split('\n').find((l) => l.startsWith('accounts '))).toMatch(/PASS \d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    const runLine = r.stdout.split('\n').find((l) => /^\d{8}T/.test(l))!;
    expect(runLine).toMatch(/loaded, gate FAILED .*failed checks: max contents/);
    expect(r.stdout).not.toMatch(/^\S+\s+loaded\s+\d{4}/m);
    const json = await status('--log-format', 'json');
    const report = JSON.parse(json.stdout) as {
      datasets: { dataset: string; tables: { table: string; gate: { status: string; failed: string[] } }[]; runs: { status: string; gate: { status: string; failed: string[] } }[] }[];
    };
    const shop = report.datasets[0]!;
    expect(shop.tables.find((t) => t.table === 'contents')!.gate).toMatchObject({ status: 'fail', failed: ['max'] });
    expect(shop.runs[0]).toMatchObject({ status: 'loaded', gate: { status: 'fail', failed: ['max contents'] } });
  });

  it('without --catalog or --dataset shows every dataset of the file; an unknown --dataset is exit 2 listing them (regression: empty tables, exit 0)', async () => {
    const other = await runCli(['--env', 'local', '--duckdb-path', file(), '--tables', 'accounts'], { DATABASE_URL: fx.db.url });
    expect(other.code, other.stderr).toBe(0);
    const all = await status();
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout.split('\n')[0]).toBe(`${file()} (local): 2 datasets: raw_datavision_local, shop_local`);
    expect(all.stdout).toMatch(/^raw_datavision_local$/m);
    expect(all.stdout).toMatch(/^shop_local$/m);
    const one = await status('--dataset', 'shop_local');
    expect(one.code).toBe(0);
    expect(one.stdout).not.toContain('raw_datavision_local');
    const unknown = await status('--dataset', 'shop_locl');
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr.trim()).toBe(
      `ingesta: error: Unknown dataset "shop_locl": ${file()} holds no such dataset. Did you mean shop_local? Datasets there (2): raw_datavision_local, shop_local. ` +
        'Name one with --dataset (INGESTA_DATASET), or leave it out to see them all.',
    );
    // a catalog that cannot be read only costs the freshness column, and says so in one line
    const noCatalog = await status('--dataset', 'shop_local', '--catalog', path.join(fx.dir, 'missing.yaml'));
    expect(noCatalog.code, noCatalog.stderr).toBe(0);
    expect(noCatalog.stdout.trim().split('\n').at(-1)).toMatch(/^skipped: freshness \(Cannot read the catalog file .*missing\.yaml/);
    expect(noCatalog.stdout).toMatch(/^contents .*FAIL/m);
  });

  it('rows of an incremental table are the rows in it now; the rows the last run loaded are a column of their own (regression: rows read last time)', async () => {
    await fx.db.query(
      `INSERT INTO contents SELECT 100000 + g, 1, 'new ' || g, NULL, 'video', now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC' FROM generate_series(1, 5) g`,
    );
    const next = await load();
    expect(next.code, next.stderr).toBe(0);
    const [{ n }] = (await duckQuery(file(), 'SELECT count(*)::INT AS n FROM shop_local.contents')) as [{ n: number }];
    const [{ loaded }] = (await duckQuery(file(), `SELECT rows_loaded::INT AS loaded FROM shop_local._ingesta_loads WHERE table_name = 'contents' ORDER BY loaded_at DESC LIMIT 1`)) as [
      { loaded: number },
    ];
    expect(loaded).toBeLessThan(n);
    const r = await status('--dataset', 'shop_local', '--log-format', 'json');
    const t = (JSON.parse(r.stdout) as { datasets: { tables: { table: string; rows: number; rowsLoaded: number }[] }[] }).datasets[0]!.tables.find((x) => x.table === 'contents')!;
    expect(t).toMatchObject({ rows: n, rowsLoaded: loaded });
    const text = await status('--dataset', 'shop_local');
    expect(text.stdout).toMatch(/^table\s+last load\s+run\s+mode\s+rows\s+last run rows\s+cursor/m);
    expect(text.stdout).toMatch(new RegExp(`^contents\\s+\\S+ \\S+\\s+\\S+\\s+incremental\\s+${n}\\s+${loaded}\\s+updated_at = `, 'm'));
  });

  it('reset of a mistyped table is exit 2 with the run\'s unknown-table message, and changes nothing (regression: exit 0, "no incremental state")', async () => {
    const before = await stateRows();
    expect(before.length).toBe(1);
    const r = await runCli(['reset', '--env', 'local', '--duckdb-path', file(), '--catalog', catalog, '--tables', 'contnets']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(
      'ingesta: error: Unknown table "contnets": not in the catalog and not in dataset shop_local. Did you mean contents for "contnets"? ' +
        `Tables in dataset shop_local (2): accounts, contents. Catalog tables (${catalog}): accounts, contents. Nothing was changed.`,
    );
    // the run refuses the same typo with the same kind of message and the same exit code
    const run = await load('--tables', 'contnets');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/Unknown table "contnets": not in the catalog and not found in the source\. Did you mean public\.contents for "contnets"\?/);
    // one good name beside the typo: still nothing is reset
    const mixed = await runCli(['reset', '--env', 'local', '--duckdb-path', file(), '--catalog', catalog, '--tables', 'contents,contnets']);
    expect(mixed.code).toBe(2);
    expect(await stateRows()).toEqual(before);
    // an unknown --dataset is the same error as status's
    const ds = await runCli(['reset', '--env', 'local', '--duckdb-path', file(), '--dataset', 'nope', '--tables', 'contents']);
    expect(ds.code).toBe(2);
    expect(ds.stderr).toContain('Unknown dataset "nope"');
    // the right name works: with two datasets in the file, the catalog names the one
    const ok = await runCli(['reset', '--env', 'local', '--duckdb-path', file(), '--catalog', catalog, '--tables', 'contents']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('forgot the incremental state of contents in shop_local');
    expect(await stateRows()).toEqual([]);
  });

  it('reset finds a table named in other capitals, as a run\'s --tables does, and forgets its cursor (regression: "no incremental state for CONTENTS", exit 0, the cursor kept)', async () => {
    const loaded = await load('--tables', 'contents');
    expect(loaded.code, loaded.stderr).toBe(0);
    expect((await stateRows()).length).toBe(1);
    const r = await runCli(['reset', '--env', 'local', '--duckdb-path', file(), '--catalog', catalog, '--tables', 'CONTENTS', 'contents']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('forgot the incremental state of contents in shop_local: their next run is a full load');
    expect(await stateRows()).toEqual([]);
  });

  it('while a run writes the file, status names that run (id, pid, start) and exits 5 instead of "in use by another process"; afterwards it reads (regression: README said no lock)', async () => {
    await fx.db.query(`CREATE FUNCTION wait_gate() RETURNS int LANGUAGE plpgsql VOLATILE AS $$ BEGIN PERFORM pg_advisory_xact_lock_shared(${GATE_LOCK}); RETURN 1; END $$`);
    await fx.db.query(`CREATE VIEW gate AS SELECT 1 AS id, wait_gate() AS x`);
    const holder = new pg.Client({ connectionString: fx.db.url });
    await holder.connect();
    await holder.query('SELECT pg_advisory_lock($1)', [GATE_LOCK]);
    const child = spawn(process.execPath, [CLI, '--env', 'local', '--duckdb-path', file(), '--catalog', catalog, '--tables', 'gate'], {
      env: { PATH: process.env.PATH, DATABASE_URL: fx.db.url, INGESTA_LOG_FORMAT: 'text' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const started = Date.now();
      for (;;) {
        const rows = await fx.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event = 'advisory'`, [fx.db.name]);
        if (Number(rows[0]!.n) > 0) break;
        if (Date.now() - started > 30_000) throw new Error('the run never reached the gate');
        await new Promise((r) => setTimeout(r, 50));
      }
      const r = await status();
      expect(r.code).toBe(5);
      expect(r.stdout).toBe('');
      expect(r.stderr.trim()).toMatch(
        new RegExp(
          `^ingesta: error: The DuckDB file ${file().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is being written by ingesta run \\d{8}T\\d+Z-[0-9a-f]{6} \\(pid ${child.pid} on \\S+, started \\S+, package extracting\\), ` +
            'and DuckDB lets no other process open a file while a run writes it, so status cannot read it now\\. ' +
            `Run ingesta status again when that run has finished \\(or stop it: kill -TERM ${child.pid} cancels it cleanly, committing nothing\\)\\.$`,
        ),
      );
      const reset = await runCli(['reset', '--env', 'local', '--duckdb-path', file(), '--dataset', 'shop_local', '--tables', 'contents']);
      expect(reset.code).toBe(5);
      expect(reset.stderr).toContain('so reset cannot change it now');
    } finally {
      await holder.query('SELECT pg_advisory_unlock($1)', [GATE_LOCK]);
      await holder.end();
    }
    expect(await exited).toBe(0);
    const after = await status('--dataset', 'shop_local');
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toMatch(/^gate\s/m);
  });
});

describe('a DuckDB client holding the file (issue 14)', () => {
  it('status names the process and its program (never its arguments), exit 5', async () => {
    const ROOT = path.resolve(import.meta.dirname, '../..');
    // a plain DuckDB client, not ingesta: no load package names it
    const script = `const { DuckDBInstance } = await import('@duckdb/node-api'); await DuckDBInstance.create(process.argv[1]); process.stdout.write('open'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, file(), 'secret-argument'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', () => resolve());
        child.on('exit', () => reject(new Error('the DuckDB client exited')));
      });
      const r = await status();
      expect(r.code).toBe(5);
      expect(r.stderr.trim()).toBe(
        `ingesta: error: The DuckDB file ${file()} is held by process ${child.pid} (node): an ingesta run still starting (no load package yet), a DuckDB client, or another program; ` +
          'DuckDB lets no other process open a file while one writes it, so status cannot read it now. Run ingesta status again once it has finished or been closed.',
      );
      expect(r.stderr).not.toContain('secret-argument');
    } finally {
      child.kill();
    }
  });
});

describe("the container's entry point runs status and reset (issue 14)", () => {
  const ENTRY = path.resolve(import.meta.dirname, '../../entry_point.sh');
  const entry = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(ENTRY, args, { cwd: fx.dir, env: { PATH: process.env.PATH, HOME: fx.dir, INGESTA_LOG_FORMAT: 'text', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });

  it('entry_point.sh status runs ingesta status with no source variable at all (regression: "exec: status: not found", and it demanded DATABASE_* it never uses)', async () => {
    const r = await entry(['status', '--env', 'local', '--duckdb-path', file(), '--dataset', 'shop_local']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('not found');
    expect(r.stderr).not.toMatch(/needs these environment variables|no database password/);
    expect(r.stdout).toMatch(/^shop_local$/m);
    expect(r.stdout).toMatch(/^contents\s/m);
    // reset too needs no source; the typo is refused by ingesta, not by the entry point
    const typo = await entry(['reset', '--env', 'local', '--duckdb-path', file(), '--dataset', 'shop_local', '--tables', 'contnets']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('ingesta: error: Unknown table "contnets"');
    // in prod (the image's default env), status without AWS settings: ingesta names the variables it cannot do without, never a source one
    const prod = await entry(['status']);
    expect(prod.code).toBe(2);
    expect(prod.stderr).toMatch(/ingesta: error: --env dev\/prod needs these environment variables, which are not set: BUCKET_URL/);
    expect(prod.stderr).not.toMatch(/DATABASE_HOST|PGHOST/);
    // reset in prod still needs the bucket and the region from the entry point, but neither the source nor QUERY_RESULT_BUCKET
    const reset = await entry(['reset', '--tables', 'contents']);
    expect(reset.code).toBe(2);
    expect(reset.stderr).toMatch(/^entry_point: --env prod needs these environment variables, which are not set: BUCKET_URL .*; REGION_NAME \(or AWS_REGION\)\. Nothing was run\.$/m);
    expect(reset.stderr).not.toMatch(/DATABASE_HOST|QUERY_RESULT_BUCKET/);
  });
});
