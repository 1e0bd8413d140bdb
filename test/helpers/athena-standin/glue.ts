import type { Engine } from './executor.js';
import { typeProblem, type TableKind } from './types.js';

/** An AWS error answer (its __type and message). */
export class AwsFault extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** A Glue table as the stand-in knows it. */
export interface GlueTable {
  readonly database: string;
  readonly name: string;
  readonly kind: TableKind;
  readonly location: string;
  readonly columns: { name: string; type: string }[];
  /** The TableInput as last written (what GetTable returns), names as Glue stores them. */
  readonly input: Record<string, any>;
}

type Input = Record<string, any>;

/**
 * The Glue Data Catalog side: databases and table definitions in memory. Like Glue, it stores database and table
 * names in lower case (lookups fold case too); it refuses what Glue or Athena refuse where ingesta could hit it:
 * column types Athena cannot read (decimal precision above 38, tinyint/smallint in an Iceberg table), duplicate
 * column names, a table in a missing database. Iceberg tables get their DuckDB table in the engine.
 */
export class GlueStandin {
  readonly databases = new Map<string, Input>();
  /** "db.table" → the table. */
  readonly tables = new Map<string, GlueTable>();

  constructor(private readonly engine: Engine) {}

  table(database: string, name: string): GlueTable | undefined {
    return this.tables.get(`${database.toLowerCase()}.${name.toLowerCase()}`);
  }

  parquetTables(): GlueTable[] {
    return [...this.tables.values()].filter((t) => t.kind === 'parquet');
  }

  private database(name: string): Input {
    const db = this.databases.get(String(name).toLowerCase());
    if (!db) throw new AwsFault('EntityNotFoundException', `Database ${name} not found.`);
    return db;
  }

  private define(database: string, input: Input, iceberg: boolean): GlueTable {
    const name = String(input.Name ?? '').toLowerCase();
    if (name === '' || name.length > 255) throw new AwsFault('InvalidInputException', `Invalid table name: ${input.Name}`);
    const kind: TableKind = iceberg || /^iceberg$/i.test(input.Parameters?.table_type ?? '') ? 'iceberg' : 'parquet';
    const columns = ((input.StorageDescriptor?.Columns ?? []) as { Name: string; Type: string }[]).map((c) => ({ name: c.Name.toLowerCase(), type: c.Type }));
    const seen = new Set<string>();
    for (const c of columns) {
      if (seen.has(c.name)) throw new AwsFault('InvalidInputException', `Duplicate column name: ${c.name}`);
      seen.add(c.name);
      const problem = typeProblem(c.type, kind);
      if (problem) throw new AwsFault('InvalidInputException', `Column ${c.name}: ${problem}`);
    }
    const location = String(input.StorageDescriptor?.Location ?? '');
    if (!location.startsWith('s3://')) throw new AwsFault('InvalidInputException', `Table ${name}: StorageDescriptor.Location must be an s3:// URL`);
    return { database: database.toLowerCase(), name, kind, location, columns, input: { ...input, Name: name } };
  }

  async handle(op: string, input: Input): Promise<unknown> {
    switch (op) {
      case 'CreateDatabase': {
        const name = String(input.DatabaseInput.Name).toLowerCase();
        if (this.databases.has(name)) throw new AwsFault('AlreadyExistsException', `Database ${name} already exists.`);
        this.databases.set(name, { ...input.DatabaseInput, Name: name });
        return {};
      }
      case 'GetDatabase':
        return { Database: this.database(input.Name) };
      case 'CreateTable': {
        this.database(input.DatabaseName);
        const iceberg = input.OpenTableFormatInput?.IcebergInput !== undefined;
        const t = this.define(input.DatabaseName, input.TableInput, iceberg);
        const key = `${t.database}.${t.name}`;
        if (this.tables.has(key)) throw new AwsFault('AlreadyExistsException', `Table ${t.name} already exists.`);
        if (t.kind === 'iceberg') {
          await this.engine.createIceberg(t.database, t.name, t.columns);
          t.input.Parameters = { ...t.input.Parameters, table_type: 'ICEBERG', metadata_location: `${t.location.replace(/\/?$/, '/')}metadata/00000.metadata.json` };
        }
        this.tables.set(key, t);
        return {};
      }
      case 'UpdateTable': {
        const old = this.table(input.DatabaseName, input.TableInput.Name);
        if (!old) throw new AwsFault('EntityNotFoundException', `Table ${input.TableInput.Name} not found.`);
        if (old.kind === 'iceberg') throw new AwsFault('InvalidInputException', `UpdateTable of Iceberg table ${old.name} through this stand-in is not modelled`);
        const t = this.define(input.DatabaseName, input.TableInput, false);
        this.tables.set(`${t.database}.${t.name}`, t);
        return {};
      }
      case 'GetTable': {
        this.database(input.DatabaseName);
        const t = this.table(input.DatabaseName, input.Name);
        if (!t) throw new AwsFault('EntityNotFoundException', `Table ${input.Name} not found.`);
        return { Table: { ...t.input, DatabaseName: t.database } };
      }
      case 'GetTables': {
        this.database(input.DatabaseName);
        const prefix = typeof input.Expression === 'string' ? input.Expression.replace(/\*$/, '').toLowerCase() : '';
        const list = [...this.tables.values()]
          .filter((t) => t.database === String(input.DatabaseName).toLowerCase() && t.name.startsWith(prefix))
          .map((t) => ({ ...t.input, DatabaseName: t.database }));
        return { TableList: list };
      }
      case 'DeleteTable': {
        const t = this.table(input.DatabaseName, input.Name);
        if (!t) throw new AwsFault('EntityNotFoundException', `Table ${input.Name} not found.`);
        this.tables.delete(`${t.database}.${t.name}`);
        if (t.kind === 'iceberg') await this.engine.dropTable(t.database, t.name);
        return {};
      }
      default:
        throw new AwsFault('UnknownOperationException', `the Glue stand-in does not implement ${op}`);
    }
  }
}
