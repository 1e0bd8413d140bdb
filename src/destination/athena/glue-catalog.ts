/**
 * The Glue Data Catalog side of the Athena destination: databases and table definitions (never data: dropping or
 * repointing a Glue table leaves its S3 files where they are). Every call goes through `withRetries`; "not found"
 * and "already exists" are answers, not failures; any other error becomes a DestinationError naming the operation
 * and the database/table.
 */
import {
  CreateDatabaseCommand,
  CreateTableCommand,
  DeleteTableCommand,
  GetDatabaseCommand,
  GetTableCommand,
  GetTablesCommand,
  UpdateTableCommand,
  type GlueClient,
  type Table,
  type TableInput,
} from '@aws-sdk/client-glue';
import { DestinationError, IngestError, messageOf } from '../../errors.js';
import { awsErrorName, isAlreadyExists, isNotFound, withRetries, type RetryOptions } from './aws-errors.js';

export type { Table } from '@aws-sdk/client-glue';

/** One column of a Glue table. */
export interface GlueColumn {
  name: string;
  /** Athena/Hive type string: 'bigint', 'decimal(10,2)', 'timestamp', 'array<int>'. */
  type: string;
  comment?: string;
}

const PARQUET = {
  serde: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
  input: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
  output: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
};

/** Marks a tolerated error (not found / already exists) in {@link GlueCatalog.call}. */
const TOLERATED = Symbol('tolerated');

const toColumns = (columns: readonly GlueColumn[]) =>
  columns.map((c) => ({ Name: c.name, Type: c.type, ...(c.comment !== undefined ? { Comment: c.comment } : {}) }));

/** A Table read from Glue, as the TableInput that UpdateTable takes (read-only fields dropped). */
function asInput(table: Table): TableInput {
  const { Name, Description, Owner, Retention, StorageDescriptor, PartitionKeys, ViewOriginalText, ViewExpandedText, TableType, Parameters, TargetTable } =
    table;
  const input: TableInput = { Name, Description, Owner, Retention, StorageDescriptor, PartitionKeys, ViewOriginalText, ViewExpandedText, TableType, Parameters, TargetTable };
  for (const key of Object.keys(input) as (keyof TableInput)[]) if (input[key] === undefined) delete input[key];
  return input;
}

/** Databases and tables of one Glue Data Catalog. */
export class GlueCatalog {
  /** The CatalogId sent with every call; undefined for the caller's account catalog. */
  readonly catalogId: string | undefined;

  /**
   * `catalogId`: a Glue catalog (account) id; undefined or 'AwsDataCatalog' mean the account's default catalog.
   * `retry`: the retry budget of every call (tests pass `{ sleep: async () => {} }`).
   */
  constructor(
    private readonly client: GlueClient,
    catalogId?: string,
    private readonly retry: Omit<RetryOptions, 'signal'> = {},
  ) {
    this.catalogId = catalogId === undefined || catalogId === '' || catalogId.toLowerCase() === 'awsdatacatalog' ? undefined : catalogId;
  }

  private get scope(): { CatalogId?: string } {
    return this.catalogId !== undefined ? { CatalogId: this.catalogId } : {};
  }

  /**
   * Makes sure a database exists: GetDatabase, and CreateDatabase only if it is missing (so a role that may read but
   * not create a pre-provisioned database works). A concurrent creation counts as 'exists'.
   */
  async ensureDatabase(name: string, description?: string): Promise<'created' | 'exists'> {
    const found = await this.call('GetDatabase', name, () => this.client.send(new GetDatabaseCommand({ ...this.scope, Name: name })), isNotFound);
    if (found !== TOLERATED) return 'exists';
    const created = await this.call(
      'CreateDatabase',
      name,
      () =>
        this.client.send(
          new CreateDatabaseCommand({ ...this.scope, DatabaseInput: { Name: name, ...(description !== undefined ? { Description: description } : {}) } }),
        ),
      isAlreadyExists,
    );
    return created === TOLERATED ? 'exists' : 'created';
  }

  /** GetTable: the table's definition, or undefined when it (or its database) does not exist. */
  async getTable(database: string, name: string): Promise<Table | undefined> {
    const out = await this.call(
      'GetTable',
      `${database}.${name}`,
      () => this.client.send(new GetTableCommand({ ...this.scope, DatabaseName: database, Name: name })),
      isNotFound,
    );
    return out === TOLERATED ? undefined : out.Table;
  }

  /**
   * Defines an unpartitioned external Parquet table over the files under `location`: CreateTable, or UpdateTable when
   * it exists (after GetTable checks it is not an Iceberg table or a view, which this would break). The update
   * replaces the whole definition but its Description and Owner; pointing Location at a new folder is how a full
   * reload is swapped in atomically for readers. Parameters: classification=parquet, EXTERNAL=TRUE, then `parameters`.
   */
  async putParquetTable(
    database: string,
    name: string,
    columns: readonly GlueColumn[],
    location: string,
    parameters: Record<string, string> = {},
  ): Promise<'created' | 'updated'> {
    const input: TableInput = {
      Name: name,
      TableType: 'EXTERNAL_TABLE',
      Parameters: { classification: 'parquet', EXTERNAL: 'TRUE', ...parameters },
      PartitionKeys: [],
      StorageDescriptor: {
        Columns: toColumns(columns),
        Location: location,
        InputFormat: PARQUET.input,
        OutputFormat: PARQUET.output,
        SerdeInfo: { SerializationLibrary: PARQUET.serde, Parameters: { 'serialization.format': '1' } },
      },
    };
    const target = `${database}.${name}`;
    const created = await this.call(
      'CreateTable',
      target,
      () => this.client.send(new CreateTableCommand({ ...this.scope, DatabaseName: database, TableInput: input })),
      isAlreadyExists,
    );
    if (created !== TOLERATED) return 'created';
    const existing = await this.getTable(database, name);
    const kind = existing?.Parameters?.table_type ?? existing?.TableType;
    if (kind !== undefined && /^(iceberg|virtual_view)$/i.test(kind)) {
      throw new DestinationError(`Glue table ${target} exists as ${kind}, not a Parquet table: drop it or choose another name; it was left unchanged.`);
    }
    if (existing?.Description !== undefined) input.Description = existing.Description;
    if (existing?.Owner !== undefined) input.Owner = existing.Owner;
    await this.call('UpdateTable', target, () => this.client.send(new UpdateTableCommand({ ...this.scope, DatabaseName: database, TableInput: input })));
    return 'updated';
  }

  /**
   * Creates an Iceberg table at `location` (CreateTable with OpenTableFormatInput: Glue writes the table's first
   * metadata file there, format version 2). An existing table of that name is left as it is: 'exists'.
   */
  async createIcebergTable(
    database: string,
    name: string,
    columns: readonly GlueColumn[],
    location: string,
    parameters: Record<string, string> = {},
  ): Promise<'created' | 'exists'> {
    const out = await this.call(
      'CreateTable',
      `${database}.${name}`,
      () =>
        this.client.send(
          new CreateTableCommand({
            ...this.scope,
            DatabaseName: database,
            TableInput: {
              Name: name,
              TableType: 'EXTERNAL_TABLE',
              Parameters: { ...parameters, table_type: 'ICEBERG' },
              StorageDescriptor: { Columns: toColumns(columns), Location: location },
            },
            OpenTableFormatInput: { IcebergInput: { MetadataOperation: 'CREATE', Version: '2' } },
          }),
        ),
      isAlreadyExists,
    );
    return out === TOLERATED ? 'exists' : 'created';
  }

  /**
   * Replaces the column list of an existing table (schema evolution): GetTable, then UpdateTable with the same
   * definition and the new columns. Throws DestinationError when the table does not exist. For an Iceberg table this
   * changes Glue's view only; its Iceberg schema evolves through Athena DDL (ALTER TABLE … ADD COLUMNS).
   */
  async updateColumns(database: string, name: string, columns: readonly GlueColumn[]): Promise<void> {
    const table = await this.getTable(database, name);
    if (!table) throw new DestinationError(`Glue UpdateTable ${database}.${name}: the table does not exist, so its columns cannot be changed.`);
    const input = asInput(table);
    input.StorageDescriptor = { ...input.StorageDescriptor, Columns: toColumns(columns) };
    await this.call('UpdateTable', `${database}.${name}`, () =>
      this.client.send(new UpdateTableCommand({ ...this.scope, DatabaseName: database, TableInput: input })),
    );
  }

  /** DeleteTable: removes the definition (not the S3 data). false when there was no such table. */
  async deleteTable(database: string, name: string): Promise<boolean> {
    const out = await this.call(
      'DeleteTable',
      `${database}.${name}`,
      () => this.client.send(new DeleteTableCommand({ ...this.scope, DatabaseName: database, Name: name })),
      isNotFound,
    );
    return out !== TOLERATED;
  }

  /**
   * Every table of a database (GetTables, following NextToken), optionally only those whose name starts with
   * `namePrefix` (sent as the Expression `<prefix>*`, and checked again here). With `missingDatabase: 'empty'`, a
   * database that does not exist has no tables; otherwise that is an error like any other.
   */
  async listTables(database: string, namePrefix?: string, opts: { missingDatabase?: 'error' | 'empty' } = {}): Promise<Table[]> {
    const tables: Table[] = [];
    let nextToken: string | undefined;
    do {
      const token = nextToken;
      const send = () =>
        this.client.send(
          new GetTablesCommand({
            ...this.scope,
            DatabaseName: database,
            ...(namePrefix ? { Expression: `${namePrefix}*` } : {}),
            ...(token !== undefined ? { NextToken: token } : {}),
          }),
        );
      const page = opts.missingDatabase === 'empty' ? await this.call('GetTables', database, send, isNotFound) : await this.call('GetTables', database, send);
      if (page === TOLERATED) return [];
      tables.push(...(page.TableList ?? []));
      nextToken = page.NextToken;
    } while (nextToken);
    const prefix = namePrefix?.toLowerCase();
    return prefix ? tables.filter((t) => (t.Name ?? '').toLowerCase().startsWith(prefix)) : tables;
  }

  /**
   * One Glue call with retries. An error `tolerate` accepts returns TOLERATED; ingesta's own errors (retries spent,
   * interrupted) pass through; any other becomes a DestinationError naming the operation and target.
   */
  private async call<T>(op: string, target: string, fn: () => Promise<T>): Promise<T>;
  private async call<T>(op: string, target: string, fn: () => Promise<T>, tolerate: (e: unknown) => boolean): Promise<T | typeof TOLERATED>;
  private async call<T>(op: string, target: string, fn: () => Promise<T>, tolerate?: (e: unknown) => boolean): Promise<T | typeof TOLERATED> {
    try {
      return await withRetries(`Glue ${op} ${target}`, fn, this.retry);
    } catch (error) {
      if (tolerate?.(error)) return TOLERATED;
      if (error instanceof IngestError) throw error;
      throw new DestinationError(`Glue ${op} ${target} failed: ${awsErrorName(error)}: ${messageOf(error)}`, { cause: error });
    }
  }
}
