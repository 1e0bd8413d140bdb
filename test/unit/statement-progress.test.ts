import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DuckDBFile } from '../../src/destination/duckdb/duckdb-connection.js';

/**
 * How far a long DuckDB load or commit is, for its heartbeat (phase_progress): DuckDB estimates its statement's
 * completion once its progress bar is on (never printed), after progress_bar_time (2 s by default; 50 ms here so a
 * CSV read of a second or two shows it).
 */
describe('DuckDB statement progress', () => {
  it('is null when nothing runs, and a percentage below 100 that grows while a CSV is read', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ingesta-stmt-progress-'));
    const db = new DuckDBFile(':memory:', 'main');
    await db.open();
    try {
      // an in-memory database spills to ./.tmp beyond its memory limit: the test's own folder instead
      await db.run(`SET temp_directory = '${path.join(dir, 'spill')}'`);
      const csv = path.join(dir, 'big.csv');
      await db.run(`COPY (SELECT range AS a, md5(range::VARCHAR) AS b FROM range(1500000)) TO '${csv}' (HEADER false)`);
      expect(db.statementProgress()).toBeNull();
      await db.run('SET progress_bar_time = 50');
      const seen: number[] = [];
      const timer = setInterval(() => {
        const p = db.statementProgress();
        if (p) seen.push(p.percent);
      }, 20);
      await db.run(`CREATE TABLE t AS SELECT * FROM read_csv('${csv}', columns = {'a': 'BIGINT', 'b': 'VARCHAR'})`);
      clearInterval(timer);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((p) => p >= 0 && p <= 99)).toBe(true);
      expect([...seen].sort((x, y) => x - y)).toEqual(seen);
      expect(Math.max(...seen)).toBeGreaterThan(0);
      expect(db.statementProgress()).toBeNull();
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
