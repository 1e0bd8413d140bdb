import type { CheckResult } from '../../quality/check-types.js';
import type { HistoryCheck, HistoryRun, QualityHistory } from '../../quality/report-history.js';
import { gateSummaries, type StoredCheck } from '../../quality/gate-summary.js';
import { versionHash, type DatasetSchemaDoc } from '../../schema/schema-document.js';
import type { DatasetHistory, DatasetStatus, FailedRunTimes } from '../dataset-history.js';
import type { AthenaDataset } from './athena-connection.js';
import type { AthenaState } from './athena-state.js';
import { athenaColumnType } from './athena-type-map.js';

/**
 * ingesta's own records of an Athena dataset, in S3 beside the data: incremental state (state.json), run records,
 * quality results, and the schema document derived from state — read for status, recovery and the gate, written
 * outside a load only for quality results, failures and resets.
 */
export class AthenaHistory implements DatasetHistory {
  constructor(private readonly ds: AthenaDataset) {}

  async isRunLoaded(runId: string): Promise<boolean> {
    const record = await this.ds.s3.getJson<{ status: string }>(this.ds.keys.run(runId));
    return record?.value.status === 'loaded';
  }

  async status(runs: number): Promise<DatasetStatus> {
    const tables = Object.entries(this.ds.state.tables)
      .map(([table, t]) => ({
        table, lastRunId: t.runId, lastLoadedAt: t.snapshotAt ?? null, mode: t.kind === 'iceberg' ? 'merge' : 'replace', rowsLoaded: t.rows,
        // a full (Parquet) table holds exactly the rows its last load wrote; an Iceberg table's count needs a query
        rowsInDestination: t.kind === 'parquet' ? t.rows : null, cursorColumn: t.cursor?.column ?? null, cursorValue: t.cursor?.value ?? null,
      }))
      .sort((a, b) => a.table.localeCompare(b.table));
    const keys = (await this.ds.s3.list(`${this.ds.keys.base}/_ingesta/runs/`)).map((o) => o.Key!).sort().reverse().slice(0, Math.max(1, runs));
    const history = [];
    for (const key of keys) {
      const r = (await this.ds.s3.getJson<{ run_id: string; status: string; finished_at?: string; tables?: (string | { table: string })[]; message?: string }>(key))?.value;
      if (!r) continue;
      history.push({
        runId: r.run_id, status: r.status, finishedAt: r.finished_at ?? null,
        tables: (r.tables ?? []).map((t) => (typeof t === 'string' ? t : t.table)), message: r.message ?? null,
      });
    }
    const gates = gateSummaries(await this.gateChecks(history.map((r) => r.runId), tables.map((t) => t.table)));
    return {
      tables: tables.map((t) => ({ ...t, gate: gates.byTable.get(t.table) ?? null })),
      runs: history.map((r) => ({ ...r, gate: gates.byRun.get(r.runId) ?? null })),
    };
  }

  /**
   * The stored checks of these runs, and of the newest gate runs until every table has one (at most 50 records read;
   * one quality/<run>.json per gate run, its time the object's).
   */
  private async gateChecks(runIds: readonly string[], tables: readonly string[]): Promise<StoredCheck[]> {
    const objects = (await this.ds.s3.list(`${this.ds.keys.base}/_ingesta/quality/`)).sort((a, b) => (b.Key ?? '').localeCompare(a.Key ?? ''));
    const wanted = new Set(runIds);
    const uncovered = new Set(tables);
    const checks: StoredCheck[] = [];
    let read = 0;
    for (const o of objects) {
      const runId = (o.Key ?? '').split('/').pop()!.replace(/\.json$/, '');
      if (!wanted.has(runId) && (uncovered.size === 0 || read >= 50)) continue;
      read += 1;
      const record = (await this.ds.s3.getJson<{ checks?: { check: string; table: string; status: string }[] }>(o.Key!))?.value;
      const checkedAt = o.LastModified ? o.LastModified.toISOString().replace('T', ' ').replace('Z', '+00') : null;
      for (const c of record?.checks ?? []) {
        checks.push({ runId, check: c.check, table: c.table, status: c.status, checkedAt });
        uncovered.delete(c.table);
      }
    }
    return checks;
  }

  /**
   * The last `runs` runs for the report's history: the run records and the gate's results beside them in S3
   * (`_ingesta/runs/`, `_ingesta/quality/`), one small JSON object each; no Athena query (and no cost per scan).
   */
  async qualityHistory(runs: number): Promise<QualityHistory> {
    const idsIn = async (folder: string) =>
      (await this.ds.s3.list(`${this.ds.keys.base}/_ingesta/${folder}/`)).map((o) => o.Key!.slice(o.Key!.lastIndexOf('/') + 1).replace(/\.json$/, ''));
    const [runIds, checkedIds] = [new Set(await idsIn('runs')), new Set(await idsIn('quality'))];
    const ids = [...new Set([...runIds, ...checkedIds])].sort().slice(-Math.max(1, Math.floor(runs)));
    const out: HistoryRun[] = [];
    const checks: HistoryCheck[] = [];
    for (const runId of ids) {
      type RunJson = { status: string; finished_at?: string; tables?: (string | { table: string; rows?: number })[] };
      const record = runIds.has(runId) ? (await this.ds.s3.getJson<RunJson>(this.ds.keys.run(runId)))?.value : undefined;
      const quality = checkedIds.has(runId) ? (await this.ds.s3.getJson<{ checks?: CheckResult[] }>(this.ds.keys.quality(runId)))?.value : undefined;
      out.push({
        runId, status: record?.status ?? 'checked', finishedAt: record?.finished_at ?? null,
        tables: (record?.tables ?? []).flatMap((t) => (typeof t === 'string' ? [] : [{ table: t.table, rowsLoaded: t.rows ?? null, rowsInDestination: null }])),
      });
      for (const c of quality?.checks ?? []) {
        checks.push({ runId, check: c.check, table: c.table, status: c.status, observed: c.observed === null ? null : String(c.observed), details: c.details ?? null });
      }
    }
    return { runs: out, checks };
  }

  async resetState(tables: readonly string[]): Promise<string[]> {
    const state = this.ds.state;
    const reset = tables.filter((t) => state.tables[t]?.cursor);
    if (reset.length === 0) return [];
    const next: AthenaState = {
      version: 1,
      tables: Object.fromEntries(Object.entries(state.tables).map(([name, t]) => [name, reset.includes(name) ? { ...t, cursor: undefined } : t])),
    };
    await this.ds.writeState(next);
    return reset;
  }

  async lastLoadedSnapshots(): Promise<Map<string, string>> {
    return new Map(Object.entries(this.ds.state.tables).flatMap(([t, s]) => (s.snapshotAt ? [[t, s.snapshotAt] as [string, string]] : [])));
  }

  async storeQualityResults(runId: string, env: string, results: readonly CheckResult[]): Promise<void> {
    await this.ds.s3.putJson(this.ds.keys.quality(runId), { run_id: runId, env, dataset: this.ds.dataset, checks: results });
  }

  async schemaDocument(): Promise<DatasetSchemaDoc> {
    const tables = Object.fromEntries(
      Object.entries(this.ds.state.tables).map(([name, t]) => {
        const doc = {
          table: name,
          source: t.source,
          write_disposition: t.writeDisposition,
          primary_key: [...t.primaryKey],
          columns: t.columns.map(([c, type]) => ({ name: c, type: athenaColumnType(c, type, t.kind).athenaType, source_name: t.sources[c]?.name ?? null, source_type: t.sources[c]?.type ?? null })),
        };
        return [name, { ...doc, version_hash: versionHash(doc), run_id: t.runId }];
      }),
    );
    return { dataset: this.ds.dataset, version_hash: versionHash(Object.values(tables).map((t) => [t.table, t.version_hash])), tables };
  }

  async recordFailure(runId: string, env: string, tables: readonly string[], message: string, times: FailedRunTimes): Promise<void> {
    await this.ds.s3
      .putJson(this.ds.keys.run(runId), {
        run_id: runId, env, status: 'failed', snapshot_at: times.snapshotAt ?? null, started_at: times.startedAt,
        finished_at: new Date().toISOString(), tables, message: message.slice(0, 2000),
      })
      .catch(() => undefined);
  }
}
