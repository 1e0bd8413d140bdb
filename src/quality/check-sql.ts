import type { CheckSpec } from './check-types.js';
import type { QualityDialect, TimeKind } from './quality-dialect.js';

/** How many offending keys or values a result quotes as examples. */
export const EXAMPLES = 5;

/** `(a, b)` text of a key, for examples. */
function keyText(d: QualityDialect, columns: readonly string[], alias?: string): string {
  const cols = columns.map((c) => d.text(`${alias ? `${alias}.` : ''}${d.ident(c)}`));
  return cols.length === 1 ? cols[0]! : `'(' || concat_ws(', ', ${cols.join(', ')}) || ')'`;
}

/** `id=12`, `(order_id=1, line_no=NULL)`: columns named with their values, as text (a NULL spelled NULL). */
function namedValues(d: QualityDialect, columns: readonly string[], alias: string): string {
  const parts = columns.map((c) => `${d.literal(`${c}=`)} || coalesce(${d.text(`${alias}.${d.ident(c)}`)}, 'NULL')`);
  return parts.length === 1 ? parts[0]! : `'(' || ${parts.join(` || ', ' || `)} || ')'`;
}

/** A uniqueness check's key: its columns, their list, and "any of them is NULL". */
function keyParts(spec: Extract<CheckSpec, { kind: 'duplicates' | 'unique' }>, d: QualityDialect) {
  const key = spec.kind === 'duplicates' ? spec.key : [spec.column];
  // a keyless table's duplicates check is skipped before any SQL (quality-gate.ts): no query can have an empty key
  if (key.length === 0) throw new Error(`the ${spec.kind} check of ${spec.table} has no key columns`);
  return { key, cols: key.map((k) => d.ident(k)).join(', '), anyNull: key.map((k) => `${d.ident(k)} IS NULL`).join(' OR ') };
}

/** FROM … WHERE of the child rows whose non-NULL foreign key has no parent (child aliased c). */
function orphansFromWhere(spec: Extract<CheckSpec, { kind: 'referential_integrity' }>, d: QualityDialect): string {
  const notNull = spec.columns.map((c) => `c.${d.ident(c)} IS NOT NULL`).join(' AND ');
  const join = spec.columns.map((c, i) => `p.${d.ident(spec.referencedColumns[i]!)} = c.${d.ident(c)}`).join(' AND ');
  return `FROM ${d.table(spec.table)} AS c WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${d.table(spec.references)} AS p WHERE ${join})`;
}

function examples(d: QualityDialect, select: string): string {
  return `(SELECT ${d.joinText('e')} FROM (${select} ORDER BY 1 LIMIT ${EXAMPLES}) AS x)`;
}

/**
 * The one query of a check: it returns a single row whose columns the evaluator reads
 * (n, dup_keys, dup_rows, null_keys, orphans, bad, examples, missing, max_value, age_seconds). `columnType` (the checked
 * column's destination type) types the literals of accepted_values, min and max.
 */
export function checkSql(spec: CheckSpec, d: QualityDialect, timeKind?: TimeKind, columnType?: string): string {
  const t = d.table(spec.table);
  switch (spec.kind) {
    case 'row_count':
      return `SELECT count(*) AS n FROM ${t}`;
    case 'duplicates':
    case 'unique': {
      const { key, cols, anyNull } = keyParts(spec, d);
      return (
        `WITH dup AS (SELECT ${cols}, count(*) AS n FROM ${t} WHERE NOT (${anyNull}) GROUP BY ${cols} HAVING count(*) > 1) ` +
        `SELECT (SELECT count(*) FROM dup) AS dup_keys, (SELECT coalesce(sum(n), 0) FROM dup) AS dup_rows, ` +
        (spec.kind === 'duplicates' ? `(SELECT count(*) FROM ${t} WHERE ${anyNull}) AS null_keys, ` : '0 AS null_keys, ') +
        `${examples(d, `SELECT ${keyText(d, key)} AS e FROM dup`)} AS examples`
      );
    }
    case 'referential_integrity': {
      // each example names the orphan row by the child's primary key and the parent value it misses
      // (`id=12 → customer_id=99`); a keyless child quotes the missing value alone
      const fk = namedValues(d, spec.columns, 'c');
      const row = spec.childKey.length > 0 ? `${namedValues(d, spec.childKey, 'c')} || ' → ' || ${fk}` : fk;
      return (
        `WITH orphan AS (SELECT ${row} AS e, ${keyText(d, spec.columns, 'c')} AS m ${orphansFromWhere(spec, d)}) ` +
        `SELECT (SELECT count(*) FROM orphan) AS orphans, ` +
        `${examples(d, 'SELECT DISTINCT e FROM orphan')} AS examples, ` +
        `${examples(d, 'SELECT DISTINCT m AS e FROM orphan')} AS missing`
      );
    }
    case 'freshness': {
      const c = d.ident(spec.column!);
      return `SELECT ${d.text(`max(${c})`)} AS max_value, ${d.ageSeconds(`max(${c})`, timeKind!, spec.timezone)} AS age_seconds FROM ${t}`;
    }
    case 'not_null':
      return `SELECT count(*) AS bad, NULL AS examples FROM ${t} WHERE ${d.ident(spec.column)} IS NULL`;
    case 'accepted_values':
    case 'min':
    case 'max': {
      const c = d.ident(spec.column);
      const where =
        spec.kind === 'accepted_values'
          ? `${c} NOT IN (${spec.values.map((v) => d.literal(v, columnType)).join(', ')})`
          : `${c} ${spec.kind === 'min' ? '<' : '>'} ${d.literal(spec.bound, columnType)}`;
      return (
        `SELECT (SELECT count(*) FROM ${t} WHERE ${c} IS NOT NULL AND ${where}) AS bad, ` +
        `${examples(d, `SELECT DISTINCT ${d.text(c)} AS e FROM ${t} WHERE ${c} IS NOT NULL AND ${where}`)} AS examples`
      );
    }
  }
}

/**
 * The cheap first pass of a check whose full query computes examples: one aggregate over the table, so clean data
 * (the usual case) costs one scan per check; the full query runs only when this finds something. Returns undefined
 * for checks that are a single pass already.
 */
export function countOnlySql(spec: CheckSpec, d: QualityDialect): string | undefined {
  const t = d.table(spec.table);
  switch (spec.kind) {
    case 'duplicates':
    case 'unique': {
      const { cols, anyNull } = keyParts(spec, d);
      return (
        `SELECT (SELECT count(*) FROM (SELECT ${cols} FROM ${t} WHERE NOT (${anyNull}) GROUP BY ${cols} HAVING count(*) > 1) AS x) AS dup_keys, ` +
        (spec.kind === 'duplicates' ? `(SELECT count(*) FROM ${t} WHERE ${anyNull}) AS null_keys` : '0 AS null_keys')
      );
    }
    case 'referential_integrity':
      return `SELECT count(*) AS orphans ${orphansFromWhere(spec, d)}`;
    default:
      return undefined;
  }
}
