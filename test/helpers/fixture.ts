import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, seedDataVision, type TestDatabase } from './postgres.js';

/** A test file's own DataVision database, seeded, and a scratch folder with the DuckDB file's path; all removed after. */
export interface DataVisionFixture {
  db: TestDatabase;
  dir: string;
  duckdbPath: string;
}

/** Registers beforeAll/afterAll for a fresh seeded database and folder; the fields are set once beforeAll has run. */
export function useDataVisionFixture(accounts: number, name: string, duckdbFile = 'dv.duckdb'): DataVisionFixture {
  const fixture = {} as DataVisionFixture;
  beforeAll(async () => {
    fixture.db = await createTestDatabase();
    await seedDataVision(fixture.db, accounts);
    fixture.dir = mkdtempSync(path.join(tmpdir(), `ingesta-${name}-`));
    fixture.duckdbPath = path.join(fixture.dir, duckdbFile);
  });
  afterAll(async () => {
    await fixture.db?.drop();
    if (fixture.dir) rmSync(fixture.dir, { recursive: true, force: true });
  });
  return fixture;
}
