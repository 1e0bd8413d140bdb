import { QueryFailure, toDuckSql, type Engine, type ResultSet } from './executor.js';
import { AwsFault, type GlueStandin } from './glue.js';
import { grammarOf, syntaxError } from './grammar.js';
import { referencedTables, typeError } from './type-checks.js';
import { typeProblem } from './types.js';

type Input = Record<string, any>;

/** One query execution as Athena keeps it. */
interface Execution {
  readonly id: string;
  readonly sql: string;
  readonly database: string | undefined;
  state: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  reason?: string;
  result?: ResultSet;
  /** SELECTs put a header row first in GetQueryResults. */
  readonly header: boolean;
}

const IDENT = '`[^`]+`|\\w+';
const REF = `(?:${IDENT})(?:\\.(?:${IDENT}))?`;

/** Iceberg's allowed type promotions (what Athena's CHANGE COLUMN accepts on an Iceberg table). */
function icebergPromotion(from: string, to: string): boolean {
  const [f, t] = [from.replace(/\s+/g, '').toLowerCase(), to.replace(/\s+/g, '').toLowerCase()];
  if (f === t || (f === 'int' && t === 'bigint') || (f === 'float' && t === 'double')) return true;
  const [df, dt] = [/^decimal\((\d+),(\d+)\)$/.exec(f), /^decimal\((\d+),(\d+)\)$/.exec(t)];
  return !!df && !!dt && df[2] === dt[2] && Number(dt[1]) > Number(df[1]);
}

const stripQuotes = (s: string) => s.replace(/^[`"]|[`"]$/g, '').replace(/``/g, '`').replace(/""/g, '"');

/**
 * The Athena side: StartQueryExecution parses the statement with the engine's grammar (Hive for DDL, Trino for the
 * rest), type-checks comparisons, enforces Athena's limits that ingesta can meet (DML only on Iceberg tables, MERGE
 * with one source row per target row, ADD COLUMNS of new columns with types Iceberg has), then executes it on the
 * engine. GetQueryExecution reports SUCCEEDED or FAILED with a StateChangeReason worded like Athena's;
 * GetQueryResults pages the result (header row first for a SELECT, as Athena does).
 */
export class AthenaStandin {
  readonly executions = new Map<string, Execution>();
  /** Every statement received, in order. */
  readonly statements: string[] = [];

  constructor(
    private readonly glue: GlueStandin,
    private readonly engine: Engine,
  ) {}

  async handle(op: string, input: Input): Promise<unknown> {
    switch (op) {
      case 'StartQueryExecution': {
        const id = `q-${this.executions.size + 1}`;
        const sql = String(input.QueryString);
        this.statements.push(sql);
        const database = input.QueryExecutionContext?.Database as string | undefined;
        const header = grammarOf(sql) === 'trino' && /^\(*\s*(select|with|values)\b/i.test(sql.trim());
        const execution: Execution = { id, sql, database, state: 'RUNNING', header };
        this.executions.set(id, execution);
        const t0 = Date.now();
        await this.execute(execution);
        if (process.env.STANDIN_DEBUG) console.log(`[standin] ${Date.now() - t0} ms ${execution.state} ${sql.slice(0, 80)}`);
        return { QueryExecutionId: id };
      }
      case 'GetQueryExecution': {
        const e = this.get(input.QueryExecutionId);
        return {
          QueryExecution: {
            QueryExecutionId: e.id,
            Query: e.sql,
            StatementType: grammarOf(e.sql) === 'hive' ? 'DDL' : 'DML',
            Status: {
              State: e.state,
              ...(e.reason ? { StateChangeReason: e.reason, AthenaError: { ErrorCategory: 2, ErrorType: 1006, Retryable: false, ErrorMessage: e.reason } } : {}),
            },
            Statistics: { DataScannedInBytes: 0 },
          },
        };
      }
      case 'GetQueryResults': {
        const e = this.get(input.QueryExecutionId);
        if (e.state !== 'SUCCEEDED') throw new AwsFault('InvalidRequestException', `Query has not yet finished. Current state: ${e.state}`);
        const result = e.result ?? { columns: [], rows: [] };
        const all = [...(e.header ? [result.columns.map((c) => c.name)] : []), ...result.rows];
        const max = Math.min(1000, Number(input.MaxResults ?? 1000));
        const start = input.NextToken ? Number(input.NextToken) : 0;
        const page = all.slice(start, start + max);
        return {
          ResultSet: {
            ResultSetMetadata: { ColumnInfo: result.columns.map((c) => ({ Name: c.name, Label: c.name, Type: c.type, CatalogName: 'hive' })) },
            Rows: page.map((row) => ({ Data: row.map((v) => (v === null ? {} : { VarCharValue: v })) })),
          },
          ...(start + max < all.length ? { NextToken: String(start + max) } : {}),
          UpdateCount: 0,
        };
      }
      case 'StopQueryExecution':
        return {};
      default:
        throw new AwsFault('UnknownOperationException', `the Athena stand-in does not implement ${op}`);
    }
  }

  private get(id: string): Execution {
    const e = this.executions.get(id);
    if (!e) throw new AwsFault('InvalidRequestException', `QueryExecution ${id} was not found`);
    return e;
  }

  private async execute(e: Execution): Promise<void> {
    try {
      const syntax = syntaxError(e.sql);
      if (syntax) throw new QueryFailure(syntax);
      e.result = grammarOf(e.sql) === 'hive' ? await this.ddl(e) : await this.trino(e);
      e.state = 'SUCCEEDED';
    } catch (error) {
      e.state = 'FAILED';
      e.reason = error instanceof QueryFailure ? error.message : `GENERIC_INTERNAL_ERROR: ${String(error)}`;
    }
  }

  /** The Glue table an ALTER TABLE names (`db.table`, or `table` in the execution's database). */
  private alteredTable(e: Execution, ref: string) {
    const parts = ref.match(/`[^`]+`|\w+/g)!.map(stripQuotes);
    const [database, name] = parts.length === 2 ? [parts[0]!, parts[1]!] : [e.database ?? 'default', parts[0]!];
    const table = this.glue.table(database, name);
    if (!table) throw new QueryFailure(`FAILED: SemanticException [Error 10001]: Table not found ${database}.${name}`);
    return table;
  }

  /**
   * Athena DDL: ALTER TABLE … ADD COLUMNS and ALTER TABLE … CHANGE COLUMN (the widenings Iceberg allows) are what
   * ingesta sends; anything else is refused as unmodelled.
   */
  private async ddl(e: Execution): Promise<ResultSet> {
    const change = new RegExp(`^\\s*ALTER\\s+TABLE\\s+(${REF})\\s+CHANGE\\s+(?:COLUMN\\s+)?(${IDENT})\\s+(${IDENT})\\s+(.+?)\\s*;?\\s*$`, 'i').exec(e.sql);
    if (change) return this.changeColumn(e, change[1]!, stripQuotes(change[2]!).toLowerCase(), stripQuotes(change[3]!).toLowerCase(), change[4]!.toLowerCase());
    const m = /^\s*ALTER\s+TABLE\s+((?:`[^`]+`|\w+)(?:\.(?:`[^`]+`|\w+))?)\s+ADD\s+COLUMNS\s*\(([\s\S]*)\)\s*;?\s*$/i.exec(e.sql);
    if (!m) throw new QueryFailure(`NOT_SUPPORTED: the stand-in models only ALTER TABLE … ADD COLUMNS and CHANGE COLUMN among DDL statements`);
    const table = this.alteredTable(e, m[1]!);
    const added = m[2]!
      .split(/,(?![^<(]*[>)])/)
      .map((c) => /^\s*(`[^`]+`|\w+)\s+(.+?)\s*$/.exec(c))
      .map((c) => {
        if (!c) throw new QueryFailure(`FAILED: ParseException: cannot read the column list of ${e.sql}`);
        return { name: stripQuotes(c[1]!).toLowerCase(), type: c[2]!.toLowerCase() };
      });
    const existing = new Set(table.columns.map((c) => c.name));
    for (const c of added) {
      if (existing.has(c.name)) throw new QueryFailure(`FAILED: SemanticException [Error 10036]: Duplicate column name: ${c.name}`);
      existing.add(c.name);
      const problem = typeProblem(c.type, table.kind);
      if (problem) throw new QueryFailure(`FAILED: SemanticException: column ${c.name}: ${problem}`);
    }
    if (table.kind === 'iceberg') await this.engine.addColumns(table.database, table.name, added);
    table.columns.push(...added);
    table.input.StorageDescriptor = { ...table.input.StorageDescriptor, Columns: table.columns.map((c) => ({ Name: c.name, Type: c.type })) };
    return { columns: [], rows: [] };
  }

  /**
   * ALTER TABLE … CHANGE COLUMN on an Iceberg table: Iceberg's type promotions only (int → bigint, float → double, a
   * decimal's precision up at the same scale), no rename; the stored rows keep their values.
   */
  private async changeColumn(e: Execution, ref: string, from: string, to: string, type: string): Promise<ResultSet> {
    const table = this.alteredTable(e, ref);
    if (table.kind !== 'iceberg') throw new QueryFailure(`NOT_SUPPORTED: the stand-in models CHANGE COLUMN on Iceberg tables only`);
    if (from !== to) throw new QueryFailure(`NOT_SUPPORTED: the stand-in models CHANGE COLUMN without a rename only`);
    const column = table.columns.find((c) => c.name === from);
    if (!column) throw new QueryFailure(`FAILED: SemanticException [Error 10002]: Invalid column reference ${from}`);
    const problem = typeProblem(type, table.kind);
    if (problem) throw new QueryFailure(`FAILED: SemanticException: column ${from}: ${problem}`);
    if (!icebergPromotion(column.type, type)) throw new QueryFailure(`GENERIC_INTERNAL_ERROR: Cannot change column type: ${from}: ${column.type} -> ${type}`);
    await this.engine.changeColumnType(table.database, table.name, from, type);
    column.type = type;
    table.input.StorageDescriptor = { ...table.input.StorageDescriptor, Columns: table.columns.map((c) => ({ Name: c.name, Type: c.type })) };
    return { columns: [], rows: [] };
  }

  /** A Trino statement: tables resolved in Glue, comparisons type-checked, DML limits, then executed. */
  private async trino(e: Execution): Promise<ResultSet> {
    const tables = referencedTables(e.sql).map(([db, name]) => {
      const database = db ?? e.database ?? 'default';
      const t = this.glue.table(database, name);
      return { database, name, t };
    });
    const known = tables.filter((x) => x.t).map((x) => x.t!);
    const typeOf = (column: string) => {
      const types = new Set(known.flatMap((t) => t.columns.filter((c) => c.name === column.toLowerCase()).map((c) => c.type.toLowerCase())));
      return types.size === 1 ? [...types][0] : undefined;
    };
    const mismatch = typeError(e.sql, typeOf);
    if (mismatch) throw new QueryFailure(mismatch);
    const verb = /^\s*(\w+)/.exec(e.sql)![1]!.toUpperCase();
    if (['MERGE', 'DELETE', 'UPDATE', 'INSERT'].includes(verb)) {
      const target = tables[0];
      if (!target?.t) throw new QueryFailure(`TABLE_NOT_FOUND: line 1:1: Table 'awsdatacatalog.${target?.database}.${target?.name}' does not exist`);
      if (target.t.kind !== 'iceberg') throw new QueryFailure(`NOT_SUPPORTED: Modifying Hive table rows is only supported for transactional tables`);
    }
    const before =
      verb === 'MERGE'
        ? async (conn: import('@duckdb/node-api').DuckDBConnection) => {
            const m = /^\s*MERGE\s+INTO\s+([\s\S]+?)\s+AS\s+(\w+)\s+USING\s+([\s\S]+?)\s+AS\s+(\w+)\s+ON\s+([\s\S]+?)\s+WHEN\b/i.exec(e.sql);
            if (!m) throw new QueryFailure('NOT_SUPPORTED: the stand-in reads MERGE INTO <table> AS t USING <relation> AS s ON … only');
            const dup = await conn.runAndReadAll(
              toDuckSql(`SELECT 1 FROM ${m[1]} AS ${m[2]} JOIN ${m[3]} AS ${m[4]} ON ${m[5]} GROUP BY ${m[2]}.rowid HAVING count(*) > 1 LIMIT 1`),
            );
            if (dup.getRows().length > 0) throw new QueryFailure('MERGE_TARGET_ROW_MULTIPLE_MATCHES: One MERGE target table row matched more than one source row');
          }
        : undefined;
    return this.engine.run(e.sql, e.database, this.glue.parquetTables(), before);
  }
}
