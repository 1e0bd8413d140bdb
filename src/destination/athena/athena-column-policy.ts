import { DuckDBInstance } from '../../normalize/duckdb-module.js';
import { renameSync } from 'node:fs';
import { DataError } from '../../errors.js';
import { quoteIdent, quoteLiteral } from '../../sql/quote.js';
import { ddlIdent } from './athena-sql.js';
import { stagedParquetSql } from './athena-staging.js';
import type { GlueColumn } from './glue-catalog.js';

/**
 * The column policy of an Iceberg table (incremental loads) in dev/prod. A column's type is fixed by the load that
 * created it; Athena can change an Iceberg column only by widening it (ALTER TABLE … CHANGE COLUMN: int → bigint,
 * float → double, a decimal's precision up at the same scale). So for each column of a batch:
 *   - not in the table yet (Glue is the authority, not state.json): ADD COLUMNS;
 *   - the same type: nothing;
 *   - a type the column can widen to: CHANGE COLUMN to it;
 *   - any other type (another decimal scale, a NaN in a decimal column, text in a number column, …): the batch is
 *     cast to the column's type, and a value that does not convert exactly stops the run before anything is written
 *     (DataError naming table, column and key, never the value), with the `--full-refresh` hint: a full refresh of
 *     such a table rebuilds it with the batch's types.
 */
export interface IcebergColumnPlan {
  /** The table's columns after this load (what state records and the MERGE writes). */
  readonly columns: readonly GlueColumn[];
  /** Columns the table lacks: ALTER TABLE … ADD COLUMNS. */
  readonly added: readonly GlueColumn[];
  /** Columns widened in place: ALTER TABLE … CHANGE COLUMN, to these types. */
  readonly widened: readonly GlueColumn[];
  /** Batch columns cast to the table's type (name → Athena type). */
  readonly casts: ReadonlyMap<string, string>;
}

const norm = (type: string) => type.toLowerCase().replace(/\s+/g, '');
const decimal = (type: string) => {
  const m = /^decimal\((\d+),(\d+)\)$/.exec(norm(type));
  return m ? { p: Number(m[1]), s: Number(m[2]) } : undefined;
};

/** Whether Athena's ALTER TABLE CHANGE COLUMN can turn an Iceberg column of type `from` into `to`. */
export function canWiden(from: string, to: string): boolean {
  const [f, t] = [norm(from), norm(to)];
  if (f === 'int' && t === 'bigint') return true;
  if (f === 'float' && t === 'double') return true;
  const [df, dt] = [decimal(f), decimal(t)];
  return !!df && !!dt && dt.s === df.s && dt.p > df.p;
}

/** Compares a batch's columns (Athena types) with the Iceberg table's (from Glue; undefined: no table yet). */
export function planIcebergColumns(batch: readonly GlueColumn[], existing: readonly GlueColumn[] | undefined): IcebergColumnPlan {
  if (!existing) return { columns: batch, added: [], widened: [], casts: new Map() };
  const known = new Map(existing.map((c) => [c.name.toLowerCase(), c.type]));
  const added: GlueColumn[] = [];
  const widened: GlueColumn[] = [];
  const casts = new Map<string, string>();
  const columns = batch.map((c): GlueColumn => {
    const current = known.get(c.name.toLowerCase());
    if (current === undefined) {
      added.push(c);
      return c;
    }
    if (norm(current) === norm(c.type)) return { name: c.name, type: current };
    if (canWiden(current, c.type)) {
      widened.push(c);
      return c;
    }
    // a decimal of another scale: keep the scale, widen the precision as far as the batch's integer digits need
    const [dc, db] = [decimal(current), decimal(c.type)];
    if (dc && db) {
      const p = Math.min(38, Math.max(dc.p, db.p - db.s + dc.s));
      if (p > dc.p) {
        const target = `decimal(${p},${dc.s})`;
        widened.push({ name: c.name, type: target });
        casts.set(c.name, target);
        return { name: c.name, type: target };
      }
    }
    casts.set(c.name, current);
    return { name: c.name, type: current };
  });
  return { columns, added, widened, casts };
}

/** The DuckDB type that holds an Athena/Glue type exactly; undefined for one ingesta never declares. */
export function duckTypeOf(athenaType: string): string | undefined {
  const t = norm(athenaType);
  const simple: Record<string, string> = {
    boolean: 'BOOLEAN', tinyint: 'TINYINT', smallint: 'SMALLINT', int: 'INTEGER', integer: 'INTEGER', bigint: 'BIGINT',
    float: 'FLOAT', real: 'FLOAT', double: 'DOUBLE', date: 'DATE', timestamp: 'TIMESTAMP', string: 'VARCHAR', binary: 'BLOB',
  };
  if (simple[t]) return simple[t];
  const d = decimal(t);
  if (d) return `DECIMAL(${d.p},${d.s})`;
  const list = /^array<(.+)>$/.exec(t);
  if (list) {
    const element = duckTypeOf(list[1]!);
    return element ? `${element}[]` : undefined;
  }
  return undefined;
}

/**
 * Casts the batch files' columns to the table's types (plan.casts), in place, file by file. First every cast column is checked:
 * a value that does not convert exactly (out of range, more decimals than the column's scale, NaN or text in a
 * number column) throws a DataError naming the table, the column and the row's key. Nothing is written before.
 */
export async function castBatchFile(table: string, files: readonly string[], plan: IcebergColumnPlan, primaryKey: readonly string[]): Promise<void> {
  if (plan.casts.size === 0) return;
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  try {
    await c.run("SET TimeZone = 'UTC'");
    const source = `read_parquet([${files.map(quoteLiteral).join(', ')}])`;
    const types = new Map(
      (await c.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRowObjectsJS().map((r) => [String(r.column_name), String(r.column_type)]),
    );
    const select: string[] = [];
    for (const [name, from] of types) {
      const athenaType = plan.casts.get(name);
      if (athenaType === undefined) {
        select.push(quoteIdent(name));
        continue;
      }
      const to = duckTypeOf(athenaType);
      const q = quoteIdent(name);
      const misfit = to === undefined ? 'true' : misfitSql(q, from, to);
      const [bad] = (
        await c.runAndReadAll(`SELECT ${primaryKey.map((k) => `CAST(${quoteIdent(k)} AS VARCHAR)`).join(` || ', ' || `) || "''"} FROM ${source} WHERE ${q} IS NOT NULL AND (${misfit}) LIMIT 1`)
      ).getRows();
      if (bad) {
        throw new DataError(
          `Table ${table}, column ${name}: the row with key (${String(bad[0])}) holds a value that does not fit the column's type ${athenaType} ` +
            `(an Iceberg column's type is fixed by its first load; this batch measured ${from}). Nothing was written. ` +
            `Rebuild the table with the new type: --full-refresh ${table}.`,
        );
      }
      // (a timestamp is staged as its exact text, see athena-staging.ts)
      select.push(`${stagedParquetSql(`CAST(${q} AS ${to})`, athenaType)} AS ${q}`);
    }
    for (const file of files) {
      const next = `${file}.cast`;
      await c.run(`COPY (SELECT ${select.join(', ')} FROM read_parquet(${quoteLiteral(file)})) TO ${quoteLiteral(next)} (FORMAT parquet, COMPRESSION zstd)`);
      renameSync(next, file);
    }
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

/** SQL true when the value of `q` (DuckDB type `from`) does not convert to `to` and back unchanged. */
function misfitSql(q: string, from: string, to: string): string {
  if (to === 'VARCHAR') return 'false';
  if (from === 'VARCHAR') {
    // text (an unconstrained numeric measured as text, NaN, …): a number must read back as the same number
    if (!/^(DECIMAL|TINYINT|SMALLINT|INTEGER|BIGINT)/.test(to)) return `TRY_CAST(${q} AS ${to}) IS NULL`;
    const n = (x: string) => `regexp_replace(regexp_replace(${x}, '(\\.[0-9]*?)0+$', '\\1'), '\\.$', '')`;
    return `TRY_CAST(${q} AS ${to}) IS NULL OR ${n(`CAST(TRY_CAST(${q} AS ${to}) AS VARCHAR)`)} <> ${n(`trim(${q})`)}`;
  }
  return `TRY_CAST(${q} AS ${to}) IS NULL OR TRY_CAST(TRY_CAST(${q} AS ${to}) AS ${from}) IS DISTINCT FROM ${q}`;
}

/** The Athena DDL that applies a plan to an existing Iceberg table: ADD COLUMNS, then one CHANGE COLUMN per widening. */
export function columnDdl(table: string, plan: IcebergColumnPlan): string[] {
  return [
    ...(plan.added.length > 0 ? [`ALTER TABLE ${ddlIdent(table)} ADD COLUMNS (${plan.added.map((c) => `${ddlIdent(c.name)} ${c.type}`).join(', ')})`] : []),
    ...plan.widened.map((c) => `ALTER TABLE ${ddlIdent(table)} CHANGE COLUMN ${ddlIdent(c.name)} ${ddlIdent(c.name)} ${c.type}`),
  ];
}

/** The columns of a Glue table definition. */
export function glueColumnsOf(table: { StorageDescriptor?: { Columns?: { Name?: string; Type?: string }[] } }): GlueColumn[] {
  return (table.StorageDescriptor?.Columns ?? []).map((c) => ({ name: c.Name ?? '', type: c.Type ?? '' }));
}
