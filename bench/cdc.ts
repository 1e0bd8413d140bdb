/**
 * CDC bench: catch-up of change data capture (changes/s) next to the cursor-based incremental run after the same
 * 1 % (and 10 %) change, on one table, in a private PostgreSQL cluster with wal_level=logical (the machine's cluster
 * runs wal_level=replica). In-process library runs (run()), so Node's start-up is not counted.
 *
 *   npm run bench:cdc -- [--rows N] [--repeat K]
 *
 * Results: printed, and written to bench/results/cdc-latest.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { run } from '../src/pipeline/run.js';
import { startLogicalCluster } from '../test/helpers/logical-cluster.js';

const { values: argv } = parseArgs({ options: { rows: { type: 'string', default: '200000' }, repeat: { type: 'string', default: '2' } } });
const N = Number(argv.rows);
const REPEAT = Number(argv.repeat);

async function main(): Promise<void> {
  const cluster = await startLogicalCluster();
  const dir = mkdtempSync(path.join(tmpdir(), 'ingesta-bench-cdc-'));
  const results: Record<string, unknown>[] = [];
  try {
    await cluster.exec('CREATE DATABASE bench');
    const url = cluster.url('postgres', undefined, 'bench');
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    await db.query(`CREATE TABLE big (id int PRIMARY KEY, val numeric(12,2), payload text, updated_at timestamptz NOT NULL)`);
    await db.query(`INSERT INTO big SELECT g, g / 7.0, md5(g::text) || md5((g + 1)::text), now() - interval '1 day' FROM generate_series(1, ${N}) g`);
    await db.query('VACUUM ANALYZE big');
    const catalog = (incremental: string) => {
      const file = path.join(dir, `${incremental.includes('cdc') ? 'cdc' : 'cursor'}.yaml`);
      writeFileSync(file, `version: 1\ntables:\n  big:\n    primary_key: [id]\n    write_disposition: merge\n    incremental: ${incremental}\n`);
      return file;
    };
    const modes = {
      cursor: { duckdbPath: path.join(dir, 'cursor.duckdb'), catalog: catalog('{ cursor_column: updated_at }') },
      cdc: { duckdbPath: path.join(dir, 'cdc.duckdb'), catalog: catalog('{ method: cdc }') },
    };
    const timed = async (mode: keyof typeof modes) => {
      const started = performance.now();
      await run({ env: 'local', sourceUrl: url, schemaExport: false, tables: ['big'], dataset: 'raw_bench', ...modes[mode] }, { env: {} });
      return (performance.now() - started) / 1000;
    };
    console.log(`rows ${N}: first runs — cursor full ${(await timed('cursor')).toFixed(2)} s, cdc slot + full ${(await timed('cdc')).toFixed(2)} s`);
    for (const pct of [1, 10]) {
      for (let k = 0; k < REPEAT; k += 1) {
        const changed = Math.round((N * pct) / 100);
        await db.query(`UPDATE big SET val = val + 1, updated_at = now() WHERE id % ${100 / pct} = ${k % (100 / pct)}`);
        const cursorS = await timed('cursor');
        const cdcS = await timed('cdc');
        const row = { pct, round: k + 1, changed, cursorS, cdcS, cdcChangesPerS: changed / cdcS, cursorRowsPerS: changed / cursorS };
        results.push(row);
        console.log(`${pct} % (${changed} rows), round ${k + 1}: cursor incremental ${cursorS.toFixed(2)} s; cdc catch-up ${cdcS.toFixed(2)} s = ${Math.round(changed / cdcS)} changes/s`);
      }
    }
    await db.end();
    const out = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, 'cdc-latest.json'), JSON.stringify({ rows: N, repeat: REPEAT, at: new Date().toISOString(), results }, null, 2));
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
