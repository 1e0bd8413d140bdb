import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { outsideLiterals } from './sql-tokens.js';
import { duckType, trinoTypeName } from './types.js';
import type { GlueTable } from './glue.js';

/** A result as Athena hands it out: column names and Trino types, and every value as its text (NULL as null). */
export interface ResultSet {
  readonly columns: { name: string; type: string }[];
  readonly rows: (string | null)[][];
}

/** A failure Athena reports as the query's StateChangeReason. */
export class QueryFailure extends Error {}

const q = (name: string) => `"${name.replace(/"/g, '""')}"`;
const lit = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** The Trino functions ingesta's MERGE and quality gate use, as DuckDB macros. */
const MACROS = [
  `CREATE OR REPLACE MACRO array_join(a, sep) AS array_to_string(a, sep)`,
  `CREATE OR REPLACE MACRO to_unixtime(ts) AS epoch(ts)`,
  `CREATE OR REPLACE MACRO with_timezone(ts, zone) AS timezone(zone, CAST(ts AS TIMESTAMP))`,
];

/** Trino spellings DuckDB reads otherwise (outside literals): timestamp(p) types. */
export function toDuckSql(sql: string): string {
  return outsideLiterals(sql, (code) =>
    code.replace(/\btimestamp\s*\(\s*(\d+)\s*\)/gi, (_m, p: string) => (Number(p) <= 3 ? 'TIMESTAMP_MS' : 'TIMESTAMP')),
  );
}

/** Every data file under a folder of the s3rver store (its objects are files named `<key>._S3rver_object`). */
function objectFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...objectFiles(full));
    else if (entry.endsWith('._S3rver_object')) out.push(full);
  }
  return out.sort();
}

/**
 * The engine behind the Athena stand-in: one in-memory DuckDB. Iceberg tables are DuckDB tables (their content
 * lives here); Glue Parquet tables are views over the Parquet objects under their current Location, re-made before
 * each statement (so a repointed table reads its new folder at once), timestamps read at millisecond precision.
 */
export class Engine {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly views = new Set<string>();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    private readonly s3Root: string,
  ) {}

  static async start(s3Root: string): Promise<Engine> {
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    await conn.run(`SET TimeZone = 'UTC'`);
    for (const m of MACROS) await conn.run(m);
    return new Engine(instance, conn, s3Root);
  }

  /** Runs `fn` after every earlier operation (one connection, one statement at a time). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  createIceberg(database: string, table: string, columns: { name: string; type: string }[]): Promise<void> {
    return this.serial(async () => {
      await this.conn.run(`CREATE SCHEMA IF NOT EXISTS ${q(database)}`);
      await this.conn.run(`CREATE TABLE ${q(database)}.${q(table)} (${columns.map((c) => `${q(c.name)} ${duckType(c.type, 'iceberg')}`).join(', ')})`);
    });
  }

  addColumns(database: string, table: string, columns: { name: string; type: string }[]): Promise<void> {
    return this.serial(async () => {
      for (const c of columns) await this.conn.run(`ALTER TABLE ${q(database)}.${q(table)} ADD COLUMN ${q(c.name)} ${duckType(c.type, 'iceberg')}`);
    });
  }

  /** An Iceberg column widened in place (ALTER TABLE … CHANGE COLUMN): the stored values converted to the new type. */
  changeColumnType(database: string, table: string, column: string, type: string): Promise<void> {
    return this.serial(async () => {
      await this.conn.run(`ALTER TABLE ${q(database)}.${q(table)} ALTER COLUMN ${q(column)} TYPE ${duckType(type, 'iceberg')}`);
    });
  }

  dropTable(database: string, table: string): Promise<void> {
    return this.serial(async () => {
      await this.conn.run(`DROP TABLE IF EXISTS ${q(database)}.${q(table)}`);
    });
  }

  /** The folder of the s3rver store behind an s3:// location. */
  private folderOf(location: string): string {
    const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(location);
    if (!m) throw new QueryFailure(`HIVE_METASTORE_ERROR: invalid table location ${location}`);
    return path.join(this.s3Root, m[1]!, m[2]!);
  }

  /** (Re)defines the view of every Glue Parquet table over the files at its current location. */
  private async syncViews(parquet: GlueTable[]): Promise<void> {
    const wanted = new Set(parquet.map((t) => `${q(t.database)}.${q(t.name)}`));
    for (const v of this.views) if (!wanted.has(v)) await this.conn.run(`DROP VIEW IF EXISTS ${v}`);
    this.views.clear();
    for (const t of parquet) {
      const name = `${q(t.database)}.${q(t.name)}`;
      try {
        await this.defineView(t, name);
      } catch (error) {
        // the table's files were deleted after they were listed (a staging table being dropped by a concurrent step:
        // its files go right after it): like Athena, a query that does not read that table is not affected; one that
        // does fails, the table being undefined here
        if (!/No files found/i.test(String(error))) throw error;
        await this.conn.run(`DROP VIEW IF EXISTS ${name}`);
        continue;
      }
      this.views.add(name);
    }
  }

  /** The view of one Glue Parquet table over the files at its location now. */
  private async defineView(t: GlueTable, name: string): Promise<void> {
    const files = objectFiles(this.folderOf(t.location));
    let select: string;
    if (files.length === 0) {
      select = `SELECT ${t.columns.map((c) => `CAST(NULL AS ${duckType(c.type, 'parquet')}) AS ${q(c.name)}`).join(', ')} WHERE false`;
    } else {
      const source = `read_parquet([${files.map(lit).join(', ')}], union_by_name = true)`;
      const present = new Set(
        (await this.conn.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRowObjectsJS().map((r) => String(r.column_name).toLowerCase()),
      );
      const cols = t.columns.map((c) =>
        present.has(c.name) ? `CAST(${q(c.name)} AS ${duckType(c.type, 'parquet')}) AS ${q(c.name)}` : `CAST(NULL AS ${duckType(c.type, 'parquet')}) AS ${q(c.name)}`,
      );
      select = `SELECT ${cols.join(', ')} FROM ${source}`;
    }
    await this.conn.run(`CREATE SCHEMA IF NOT EXISTS ${q(t.database)}`);
    await this.conn.run(`CREATE OR REPLACE VIEW ${name} AS ${select}`);
  }

  /**
   * Executes one Trino statement that passed the grammar and type checks. A SELECT returns its rows as Athena's
   * text; DML returns no rows. Engine errors become QueryFailure.
   */
  run(sql: string, database: string | undefined, parquet: GlueTable[], before?: (conn: DuckDBConnection) => Promise<void>): Promise<ResultSet> {
    return this.serial(async () => {
      await this.syncViews(parquet);
      if (database) {
        await this.conn.run(`CREATE SCHEMA IF NOT EXISTS ${q(database)}`);
        await this.conn.run(`SET schema = ${lit(database)}`);
      }
      const duckSql = toDuckSql(sql.trim().replace(/;\s*$/, ''));
      try {
        await before?.(this.conn);
        if (!/^\(*\s*(select|with|values)\b/i.test(duckSql)) {
          await this.conn.run(duckSql);
          return { columns: [], rows: [] };
        }
        const described = (await this.conn.runAndReadAll(`DESCRIBE ${duckSql}`)).getRowObjectsJS();
        const names = described.map((r) => String(r.column_name));
        const types = described.map((r) => String(r.column_type));
        const exprs = names.map((n, i) => {
          const c = `q.${q(n)}`;
          if (types[i] === 'TIMESTAMP') return `strftime(${c}, '%Y-%m-%d %H:%M:%S.%f')`;
          if (types[i] === 'TIMESTAMP_MS') return `strftime(CAST(${c} AS TIMESTAMP), '%Y-%m-%d %H:%M:%S.%g')`;
          return `CAST(${c} AS VARCHAR)`;
        });
        const reader = await this.conn.runAndReadAll(`SELECT ${exprs.map((e, i) => `${e} AS c${i}`).join(', ')} FROM (${duckSql}) AS q`);
        const rows = reader.getRows().map((r) => r.map((v) => (v === null ? null : String(v))));
        return { columns: names.map((name, i) => ({ name, type: trinoTypeName(types[i]!) })), rows };
      } catch (error) {
        if (error instanceof QueryFailure) throw error;
        throw new QueryFailure(`GENERIC_USER_ERROR: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
      } finally {
        if (database) await this.conn.run(`SET schema = 'main'`).catch(() => undefined);
      }
    });
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}
