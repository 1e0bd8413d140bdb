import { messageOf } from '../errors.js';
import { checkSql, countOnlySql } from './check-sql.js';
import type { CheckResult, CheckSpec, CheckStatus, SourceCount } from './check-types.js';
import type { QualityDialect } from './quality-dialect.js';

type Row = Record<string, unknown>;

/** What the gate needs from a destination: run a query, and tell a column's type. */
export interface GateTarget {
  readonly dialect: QualityDialect;
  query(sql: string): Promise<Row[]>;
  /** Column name → destination type, empty when the table does not exist. */
  columnTypes(table: string): Promise<Map<string, string>>;
}

/** A timestamp later than now by more than this is reported as in the future (tolerates clock skew). */
const FUTURE_TOLERANCE_SECONDS = 300;

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const hours = (seconds: number) => Math.round((seconds / 3600) * 100) / 100;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function result(spec: CheckSpec, status: CheckStatus, observed: CheckResult['observed'], expected: CheckResult['expected'], message: string, details?: Record<string, unknown>): CheckResult {
  return { check: spec.kind, table: spec.table, status, observed, expected, message, ...(details ? { details } : {}) };
}

const withSql = (r: CheckResult, sql: readonly string[]): CheckResult => (sql.length > 0 ? { ...r, sql: sql.join(';\n') } : r);

/** Runs every check on the destination and evaluates it; a check that cannot run is a failure that says why. */
export async function runQualityGate(specs: readonly CheckSpec[], target: GateTarget, sourceCounts: ReadonlyMap<string, SourceCount>): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const typesCache = new Map<string, Map<string, string>>();
  const typesOf = async (table: string) => {
    if (!typesCache.has(table)) typesCache.set(table, await target.columnTypes(table));
    return typesCache.get(table)!;
  };
  // the SQL each check ran (its cheap first pass, then the query that finds the examples), shown by the report
  let ran: string[] = [];
  const recording: GateTarget = { dialect: target.dialect, query: (sql) => (ran.push(sql), target.query(sql)), columnTypes: (t) => target.columnTypes(t) };
  for (const spec of specs) {
    ran = [];
    try {
      const types = await typesOf(spec.table);
      if (types.size === 0) {
        results.push(result(spec, spec.severity, null, null, `table ${spec.table} does not exist in the destination; load it first`));
        continue;
      }
      results.push(withSql(await evaluate(spec, recording, types, sourceCounts), ran));
    } catch (error) {
      results.push(withSql(result(spec, 'fail', null, null, `the check could not run: ${messageOf(error).split('\n')[0]}`), ran));
    }
  }
  return results;
}

async function evaluate(spec: CheckSpec, target: GateTarget, types: Map<string, string>, sourceCounts: ReadonlyMap<string, SourceCount>): Promise<CheckResult> {
  const d = target.dialect;
  switch (spec.kind) {
    case 'row_count': {
      const [row] = await target.query(checkSql(spec, d));
      const observed = num(row?.n);
      const source = sourceCounts.get(spec.table);
      if (!source) return result(spec, 'skip', observed, null, 'no source count available for this table');
      const diff = source.rows - observed;
      if (diff === 0) return result(spec, 'pass', observed, source.rows, `${observed} rows, as in the source`);
      const what = diff > 0 ? `${plural(diff, 'row')} missing in the destination` : `${plural(-diff, 'row')} more in the destination than in the source`;
      if (source.changedSinceLoad !== undefined && source.changedSinceLoad > 0 && Math.abs(diff) <= source.changedSinceLoad) {
        return result(spec, 'warn', observed, source.rows, `${what}; explained by ${plural(source.changedSinceLoad, 'row')} changed in the source since the last load`, {
          changedSinceLoad: source.changedSinceLoad,
        });
      }
      return result(spec, spec.severity, observed, source.rows, `${what}, not explained by changes since the last load; reload with --full-refresh ${spec.table}`, {
        ...(source.changedSinceLoad !== undefined ? { changedSinceLoad: source.changedSinceLoad } : {}),
      });
    }
    case 'duplicates':
    case 'unique': {
      if (spec.kind === 'duplicates' && spec.key.length === 0) {
        return result(spec, 'skip', null, null, 'the table has no primary key (none in the catalog or the source; a view has none): no key to check for duplicates');
      }
      const [first] = await target.query(countOnlySql(spec, d)!);
      const [row] = num(first?.dup_keys) + num(first?.null_keys) === 0 ? [first] : await target.query(checkSql(spec, d));
      const dupKeys = num(row?.dup_keys);
      const nullKeys = num(row?.null_keys);
      const key = spec.kind === 'duplicates' ? spec.key : [spec.column];
      const label = key.length > 1 ? `(${key.join(', ')})` : key[0]!;
      if (dupKeys === 0 && nullKeys === 0) return result(spec, 'pass', 0, 0, `every ${label} is unique${spec.kind === 'duplicates' ? ' and not null' : ''}`);
      const parts = [];
      if (dupKeys > 0) parts.push(`${plural(dupKeys, 'value')} of ${label} ${dupKeys === 1 ? 'appears' : 'appear'} more than once (${plural(num(row?.dup_rows), 'row')} in all), e.g. ${String(row?.examples)}`);
      if (nullKeys > 0) parts.push(`${plural(nullKeys, 'row')} with a NULL in ${label}`);
      return result(spec, spec.severity, dupKeys + nullKeys, 0, parts.join('; '), {
        duplicatedKeys: dupKeys, duplicatedRows: num(row?.dup_rows), nullKeys, examples: row?.examples ?? null,
      });
    }
    case 'referential_integrity': {
      const missing = spec.columns.filter((c) => !types.has(c));
      if (missing.length > 0) return result(spec, spec.severity, null, 0, `column ${missing.join(', ')} is missing in the destination`);
      const [first] = await target.query(countOnlySql(spec, d)!);
      const [row] = num(first?.orphans) === 0 ? [first] : await target.query(checkSql(spec, d));
      const orphans = num(row?.orphans);
      const rel = `${spec.table}.(${spec.columns.join(', ')}) → ${spec.references}.(${spec.referencedColumns.join(', ')})`;
      // examples: the orphan rows by the child's key and the parent value each misses; missing: those parent values
      const details = { relationship: rel, declaredIn: spec.origin, ...(orphans > 0 ? { examples: row?.examples ?? null, missing: row?.missing ?? null } : {}) };
      if (orphans === 0) return result(spec, 'pass', 0, 0, `${rel}: no orphans`, details);
      const parent = `${spec.references}.${spec.referencedColumns.length > 1 ? `(${spec.referencedColumns.join(', ')})` : spec.referencedColumns[0]!}`;
      return result(spec, spec.severity, orphans, 0, `${rel}: ${plural(orphans, 'orphan row')}, e.g. ${String(row?.examples)} (no such ${parent}: ${String(row?.missing)})`, details);
    }
    case 'freshness': {
      if (!spec.column) return result(spec, 'skip', null, spec.thresholdHours, 'no freshness column declared for this table in the catalog');
      const type = types.get(spec.column);
      const kind = type ? d.timeKind(type) : undefined;
      // a declared column the check cannot use fails like any check that cannot run (it was a skip: never checked, exit 0)
      if (!kind) {
        return result(spec, spec.severity, null, spec.thresholdHours, `the catalog's freshness_column ${spec.column} ${type ? `is of type ${type}, not a date or timestamp` : 'does not exist in the destination'}: fix freshness_column`);
      }
      const [row] = await target.query(checkSql(spec, d, kind));
      const max = row?.max_value == null ? null : String(row.max_value);
      if (max === null) return result(spec, spec.severity, null, spec.thresholdHours, `no ${spec.column} values: the table is empty or all NULL`);
      const age = Number(row?.age_seconds);
      const details = { column: spec.column, maxValue: max, ageHours: Number.isFinite(age) ? hours(age) : null, timeZone: kind === 'timestamptz' ? 'from the value' : spec.timezone };
      if (max === 'infinity' || (Number.isFinite(age) && age < -FUTURE_TOLERANCE_SECONDS)) {
        return result(spec, 'warn', Number.isFinite(age) ? hours(age) : max, spec.thresholdHours, `max(${spec.column}) = ${max} is in the future (${Number.isFinite(age) ? `${hours(-age)} h ahead` : 'infinity'}): clock skew or bad data`, details);
      }
      if (!Number.isFinite(age) || age > spec.thresholdHours * 3600) {
        return result(spec, spec.severity, Number.isFinite(age) ? hours(age) : max, spec.thresholdHours, `max(${spec.column}) = ${max} is ${Number.isFinite(age) ? `${hours(age)} h` : 'infinitely'} old, more than ${spec.thresholdHours} h`, details);
      }
      return result(spec, 'pass', hours(Math.max(age, 0)), spec.thresholdHours, `max(${spec.column}) = ${max}, ${hours(Math.max(age, 0))} h old`, details);
    }
    case 'not_null':
    case 'accepted_values':
    case 'min':
    case 'max': {
      if (!types.has(spec.column)) return result(spec, spec.severity, null, 0, `column ${spec.column} does not exist in the destination`);
      const [row] = await target.query(checkSql(spec, d, undefined, types.get(spec.column)));
      const bad = num(row?.bad);
      const rule =
        spec.kind === 'not_null' ? 'is NULL' : spec.kind === 'accepted_values' ? `is not one of ${spec.values.join(', ')}` : spec.kind === 'min' ? `is below ${spec.bound}` : `is above ${spec.bound}`;
      if (bad === 0) return result(spec, 'pass', 0, 0, `no ${spec.column} ${rule}`);
      return result(spec, spec.severity, bad, 0, `${spec.column} ${rule} in ${plural(bad, 'row')}${row?.examples ? `, e.g. ${String(row.examples)}` : ''}`, {
        column: spec.column, examples: row?.examples ?? null,
      });
    }
  }
}
