import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigError, datasetStatus, InterruptedError, readQualityHistory, resetTables, resolveConfig, resolveDatasetSettings, run, writeHtmlReport, writeJsonReport,
  type DatasetSettings, type DatasetStatusReport, type GateSummary, type PipelineEvent, type ResetResult, type RunStatus, type StatusReport, type TableStatusRow,
} from '../../src/index.js';
import { nonCamelCaseKeys } from '../helpers/naming.js';
import { duckQuery } from '../helpers/duckdb.js';
import { createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';

let db: TestDatabase;
let dir: string;
const cwd = process.cwd();

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDataVision(db, 10);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-lib-api-'));
});

afterAll(async () => {
  process.chdir(cwd);
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('library API', () => {
  it('run() writes no schema export into the embedding application\'s folder unless asked (regression: schemas/export in the working folder)', async () => {
    const app = mkdtempSync(path.join(dir, 'app-'));
    process.chdir(app);
    try {
      await run({ env: 'local', tables: ['accounts'], duckdbPath: path.join(dir, 'a.duckdb'), sourceUrl: db.url }, { env: {} });
      expect(readdirSync(app)).toEqual([]);
      const asked = path.join(dir, 'export');
      await run({ env: 'local', tables: ['accounts'], duckdbPath: path.join(dir, 'a.duckdb'), sourceUrl: db.url, schemaExport: asked }, { env: {} });
      expect(readdirSync(asked)).toEqual(['raw_datavision_local.schema.yaml']);
    } finally {
      process.chdir(cwd);
    }
  });

  it('run() can be cancelled with an AbortSignal: it rejects with InterruptedError and commits nothing (regression: no way to cancel)', async () => {
    const file = path.join(dir, 'cancel.duckdb');
    const controller = new AbortController();
    const onEvent = (e: PipelineEvent) => {
      if (e.type === 'extract_started') controller.abort();
    };
    const error = await run({ env: 'local', duckdbPath: file, sourceUrl: db.url }, { env: {}, onEvent, signal: controller.signal }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InterruptedError);
    expect((error as Error).message).toMatch(/nothing of this run was committed/);
    if (existsSync(file)) expect(await duckQuery(file, "SELECT count(*) AS n FROM duckdb_tables() WHERE schema_name = 'raw_datavision_local' AND table_name = 'accounts'")).toEqual([{ n: 0n }]);
  });

  it('status, reset and the report writers are exported', async () => {
    const file = path.join(dir, 's.duckdb');
    const summary = await run({ env: 'local', tables: ['contents'], duckdbPath: file, sourceUrl: db.url, validate: true }, { env: {} });
    const config = resolveConfig({ env: 'local', duckdbPath: file }, {});
    expect((await datasetStatus(config)).datasets[0]!.tables.map((t) => t.table)).toContain('contents');
    expect((await resetTables(config, ['contents'])).reset).toEqual(['contents']);
    writeJsonReport(path.join(dir, 'r.json'), summary.quality!);
    writeHtmlReport(path.join(dir, 'r.html'), summary.quality!);
    expect(existsSync(path.join(dir, 'r.json')) && existsSync(path.join(dir, 'r.html'))).toBe(true);
    // the HTML report's history, read-only from the destination
    const history = await readQualityHistory(config);
    expect(history.runs.map((r) => r.runId)).toEqual([summary.runId]);
    expect(history.checks.filter((c) => c.runId === summary.runId)).toHaveLength(summary.quality!.checks.length);
    writeHtmlReport(path.join(dir, 'h.html'), summary.quality!, history);
    expect(readFileSync(path.join(dir, 'h.html'), 'utf8')).toContain('Over the last 1 run');
    // one naming convention for the summary, the report (as returned and as written) and the history (regression: the
    // report file said run_id / started_at while the summary says runId / startedAt)
    const written = JSON.parse(readFileSync(path.join(dir, 'r.json'), 'utf8')) as unknown;
    expect(nonCamelCaseKeys({ summary, written, history })).toEqual([]);
  });

  it('status and reset take their settings without any source setting, and their results are typed (regression: not exported)', async () => {
    const file = path.join(dir, 's.duckdb');
    // no DATABASE_URL, PG* or catalog: status and reset never read the source; a broken DATABASE_URL changes nothing
    const settings: DatasetSettings = resolveDatasetSettings({ env: 'local', duckdbPath: file }, { DATABASE_URL: 'not a url' });
    const report: StatusReport = await datasetStatus(settings, 5);
    const dataset: DatasetStatusReport = report.datasets[0]!;
    const contents: TableStatusRow | undefined = dataset.tables.find((t) => t.table === 'contents');
    const gate: GateSummary | null = contents!.gate;
    expect(report).toMatchObject({ env: 'local', destination: file, skipped: [] });
    expect(dataset.dataset).toBe('raw_datavision_local');
    expect(contents!.rows).toBe(30);
    expect(gate).toMatchObject({ status: 'pass', failed: [] });
    const runs: readonly RunStatus[] = dataset.runs;
    expect(runs[0]!.gate?.status).toBe('pass');
    const reset: ResetResult = await resetTables(settings, ['contents']);
    expect(reset).toEqual({ dataset: 'raw_datavision_local', reset: [], unchanged: ['contents'] });
    await expect(resetTables(settings, ['contnets'])).rejects.toThrow(ConfigError);
    await expect(datasetStatus(resolveDatasetSettings({ env: 'local', duckdbPath: file, dataset: 'nope' }, {}))).rejects.toThrow(/Unknown dataset "nope"/);
  });
});
