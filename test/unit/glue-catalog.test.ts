import {
  AccessDeniedException,
  AlreadyExistsException,
  CreateDatabaseCommand,
  CreateTableCommand,
  DeleteTableCommand,
  EntityNotFoundException,
  GetDatabaseCommand,
  GetTableCommand,
  GetTablesCommand,
  GlueClient,
  ThrottlingException,
  UpdateTableCommand,
  type Table,
} from '@aws-sdk/client-glue';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { GlueCatalog, type GlueColumn } from '../../src/destination/athena/glue-catalog.js';
import { DestinationError } from '../../src/errors.js';
import { rejection } from '../helpers/expect-error.js';

const glue = mockClient(GlueClient);
const client = new GlueClient({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'not-a-secret' } });
const FAST = { sleep: async () => {} };
const catalog = () => new GlueCatalog(client, undefined, FAST);

const notFound = (what = 'Entity Not Found') => new EntityNotFoundException({ message: what, $metadata: { httpStatusCode: 400 } });
const exists = () => new AlreadyExistsException({ message: 'Table already exists.', $metadata: { httpStatusCode: 400 } });

const COLUMNS: GlueColumn[] = [
  { name: 'account_id', type: 'bigint', comment: 'primary key' },
  { name: 'balance', type: 'decimal(10,2)' },
  { name: 'tags', type: 'array<string>' },
];
const GLUE_COLUMNS = [
  { Name: 'account_id', Type: 'bigint', Comment: 'primary key' },
  { Name: 'balance', Type: 'decimal(10,2)' },
  { Name: 'tags', Type: 'array<string>' },
];

beforeEach(() => glue.reset());

describe('GlueCatalog.ensureDatabase', () => {
  it("returns 'exists' without creating when GetDatabase finds it", async () => {
    glue.on(GetDatabaseCommand).resolves({ Database: { Name: 'raw' } });
    await expect(catalog().ensureDatabase('raw')).resolves.toBe('exists');
    expect(glue.commandCalls(GetDatabaseCommand)[0]!.args[0].input).toEqual({ Name: 'raw' });
    expect(glue.commandCalls(CreateDatabaseCommand)).toHaveLength(0);
  });

  it("creates a missing database and returns 'created'", async () => {
    glue.on(GetDatabaseCommand).rejects(notFound('Database raw not found.'));
    glue.on(CreateDatabaseCommand).resolves({});
    await expect(catalog().ensureDatabase('raw', 'ingesta raw layer')).resolves.toBe('created');
    expect(glue.commandCalls(CreateDatabaseCommand)[0]!.args[0].input).toEqual({
      DatabaseInput: { Name: 'raw', Description: 'ingesta raw layer' },
    });
  });

  it("treats a concurrent creation (AlreadyExistsException) as 'exists'", async () => {
    glue.on(GetDatabaseCommand).rejects(notFound());
    glue.on(CreateDatabaseCommand).rejects(exists());
    await expect(catalog().ensureDatabase('raw')).resolves.toBe('exists');
  });

  it('sends CatalogId only for an explicit catalog, not for AwsDataCatalog', async () => {
    glue.on(GetDatabaseCommand).resolves({ Database: { Name: 'raw' } });
    await new GlueCatalog(client, 'AwsDataCatalog', FAST).ensureDatabase('raw');
    await new GlueCatalog(client, '123456789012', FAST).ensureDatabase('raw');
    expect(glue.commandCalls(GetDatabaseCommand).map((c) => c.args[0].input)).toEqual([
      { Name: 'raw' },
      { CatalogId: '123456789012', Name: 'raw' },
    ]);
  });
});

describe('GlueCatalog.getTable', () => {
  it('returns the table, or undefined when it does not exist', async () => {
    glue.on(GetTableCommand, { Name: 'accounts' }).resolves({ Table: { Name: 'accounts', DatabaseName: 'raw' } });
    glue.on(GetTableCommand, { Name: 'missing' }).rejects(notFound());
    await expect(catalog().getTable('raw', 'accounts')).resolves.toMatchObject({ Name: 'accounts' });
    await expect(catalog().getTable('raw', 'missing')).resolves.toBeUndefined();
  });

  it('retries a throttled call, and wraps a terminal error naming the operation and the table', async () => {
    glue.on(GetTableCommand).rejectsOnce(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} })).resolves({ Table: { Name: 't' } });
    await expect(catalog().getTable('raw', 't')).resolves.toMatchObject({ Name: 't' });
    expect(glue.commandCalls(GetTableCommand)).toHaveLength(2);

    glue.reset();
    glue.on(GetTableCommand).rejects(new AccessDeniedException({ message: 'Insufficient Lake Formation permission(s)', $metadata: {} }));
    const error = await rejection(catalog().getTable('raw', 't'));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error.message).toBe('Glue GetTable raw.t failed: AccessDeniedException: Insufficient Lake Formation permission(s)');
    expect(glue.commandCalls(GetTableCommand)).toHaveLength(1);
  });

  it('throws DestinationError naming the table when throttling outlasts the budget', async () => {
    glue.on(GetTableCommand).rejects(new ThrottlingException({ message: 'Rate exceeded', $metadata: {} }));
    const error = await rejection(new GlueCatalog(client, undefined, { ...FAST, attempts: 3 }).getTable('raw', 't'));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error.message).toBe('Glue GetTable raw.t failed after 3 attempts: ThrottlingException: Rate exceeded');
  });
});

describe('GlueCatalog.putParquetTable', () => {
  const location = 's3://lake/raw/accounts/data/run-2/';

  it('creates an external Parquet table', async () => {
    glue.on(CreateTableCommand).resolves({});
    await expect(catalog().putParquetTable('raw', 'accounts', COLUMNS, location, { ingesta_run: 'run-2' })).resolves.toBe('created');
    expect(glue.commandCalls(CreateTableCommand)[0]!.args[0].input).toEqual({
      DatabaseName: 'raw',
      TableInput: {
        Name: 'accounts',
        TableType: 'EXTERNAL_TABLE',
        Parameters: { classification: 'parquet', EXTERNAL: 'TRUE', ingesta_run: 'run-2' },
        PartitionKeys: [],
        StorageDescriptor: {
          Columns: GLUE_COLUMNS,
          Location: location,
          InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          OutputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
          SerdeInfo: {
            SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
            Parameters: { 'serialization.format': '1' },
          },
        },
      },
    });
    expect(glue.commandCalls(UpdateTableCommand)).toHaveLength(0);
  });

  it('updates an existing table to the new Location', async () => {
    glue.on(CreateTableCommand).rejects(exists());
    glue.on(GetTableCommand).resolves({
      Table: {
        Name: 'accounts',
        DatabaseName: 'raw',
        Description: 'kept',
        TableType: 'EXTERNAL_TABLE',
        Parameters: { classification: 'parquet', EXTERNAL: 'TRUE' },
        StorageDescriptor: { Columns: GLUE_COLUMNS, Location: 's3://lake/raw/accounts/data/run-1/' },
      },
    });
    glue.on(UpdateTableCommand).resolves({});

    await expect(catalog().putParquetTable('raw', 'accounts', COLUMNS, location)).resolves.toBe('updated');

    const input = glue.commandCalls(UpdateTableCommand)[0]!.args[0].input;
    expect(input.DatabaseName).toBe('raw');
    expect(input.TableInput?.Name).toBe('accounts');
    expect(input.TableInput?.Description).toBe('kept');
    expect(input.TableInput?.StorageDescriptor?.Location).toBe(location);
    expect(input.TableInput?.StorageDescriptor?.Columns).toEqual(GLUE_COLUMNS);
    expect(input.TableInput?.Parameters).toEqual({ classification: 'parquet', EXTERNAL: 'TRUE' });
  });

  it('refuses to overwrite an Iceberg table of the same name', async () => {
    glue.on(CreateTableCommand).rejects(exists());
    glue.on(GetTableCommand).resolves({ Table: { Name: 'accounts', TableType: 'EXTERNAL_TABLE', Parameters: { table_type: 'ICEBERG' } } });
    const error = await rejection(catalog().putParquetTable('raw', 'accounts', COLUMNS, location));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error.message).toContain('raw.accounts exists as ICEBERG');
    expect(glue.commandCalls(UpdateTableCommand)).toHaveLength(0);
  });
});

describe('GlueCatalog.createIcebergTable', () => {
  it('creates the table through OpenTableFormatInput with table_type ICEBERG', async () => {
    glue.on(CreateTableCommand).resolves({});
    const location = 's3://lake/raw/accounts/iceberg/';
    await expect(catalog().createIcebergTable('raw', 'accounts', COLUMNS, location, { write_compression: 'zstd' })).resolves.toBe('created');
    expect(glue.commandCalls(CreateTableCommand)[0]!.args[0].input).toEqual({
      DatabaseName: 'raw',
      TableInput: {
        Name: 'accounts',
        TableType: 'EXTERNAL_TABLE',
        Parameters: { write_compression: 'zstd', table_type: 'ICEBERG' },
        StorageDescriptor: { Columns: GLUE_COLUMNS, Location: location },
      },
      OpenTableFormatInput: { IcebergInput: { MetadataOperation: 'CREATE', Version: '2' } },
    });
  });

  it("returns 'exists' when the table is already there", async () => {
    glue.on(CreateTableCommand).rejects(exists());
    await expect(catalog().createIcebergTable('raw', 'accounts', COLUMNS, 's3://lake/x/')).resolves.toBe('exists');
  });
});

describe('GlueCatalog.updateColumns', () => {
  it('replaces the columns and keeps the rest of the definition, without read-only fields', async () => {
    const table: Table = {
      Name: 'accounts',
      DatabaseName: 'raw',
      CreateTime: new Date(0),
      UpdateTime: new Date(0),
      CreatedBy: 'arn:aws:iam::123456789012:role/ingesta',
      IsRegisteredWithLakeFormation: false,
      CatalogId: '123456789012',
      VersionId: '7',
      TableType: 'EXTERNAL_TABLE',
      Parameters: { classification: 'parquet' },
      PartitionKeys: [],
      StorageDescriptor: { Columns: GLUE_COLUMNS.slice(0, 1), Location: 's3://lake/raw/accounts/data/run-1/', InputFormat: 'in' },
    };
    glue.on(GetTableCommand).resolves({ Table: table });
    glue.on(UpdateTableCommand).resolves({});

    await catalog().updateColumns('raw', 'accounts', COLUMNS);

    expect(glue.commandCalls(UpdateTableCommand)[0]!.args[0].input).toEqual({
      DatabaseName: 'raw',
      TableInput: {
        Name: 'accounts',
        TableType: 'EXTERNAL_TABLE',
        Parameters: { classification: 'parquet' },
        PartitionKeys: [],
        StorageDescriptor: { Columns: GLUE_COLUMNS, Location: 's3://lake/raw/accounts/data/run-1/', InputFormat: 'in' },
      },
    });
  });

  it('throws DestinationError when the table does not exist', async () => {
    glue.on(GetTableCommand).rejects(notFound());
    const error = await rejection(catalog().updateColumns('raw', 'gone', COLUMNS));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error.message).toContain('raw.gone');
    expect(glue.commandCalls(UpdateTableCommand)).toHaveLength(0);
  });
});

describe('GlueCatalog.deleteTable', () => {
  it('returns true when it deleted the table and false when there was none', async () => {
    glue.on(DeleteTableCommand, { Name: 'accounts' }).resolves({});
    glue.on(DeleteTableCommand, { Name: 'missing' }).rejects(notFound());
    await expect(catalog().deleteTable('raw', 'accounts')).resolves.toBe(true);
    await expect(catalog().deleteTable('raw', 'missing')).resolves.toBe(false);
    expect(glue.commandCalls(DeleteTableCommand)[0]!.args[0].input).toEqual({ DatabaseName: 'raw', Name: 'accounts' });
  });
});

describe('GlueCatalog.listTables', () => {
  it('follows NextToken across pages', async () => {
    glue
      .on(GetTablesCommand)
      .resolvesOnce({ TableList: [{ Name: 'a' }, { Name: 'b' }], NextToken: 't2' })
      .resolvesOnce({ TableList: [{ Name: 'c' }], NextToken: 't3' })
      .resolvesOnce({ TableList: [{ Name: 'd' }] });
    const tables = await catalog().listTables('raw');
    expect(tables.map((t) => t.Name)).toEqual(['a', 'b', 'c', 'd']);
    expect(glue.commandCalls(GetTablesCommand).map((c) => c.args[0].input)).toEqual([
      { DatabaseName: 'raw' },
      { DatabaseName: 'raw', NextToken: 't2' },
      { DatabaseName: 'raw', NextToken: 't3' },
    ]);
  });

  it('filters by name prefix with an Expression, and checks the prefix itself', async () => {
    glue.on(GetTablesCommand).resolves({ TableList: [{ Name: 'stg_accounts' }, { Name: 'stg_contents' }, { Name: 'xstg_other' }] });
    const tables = await catalog().listTables('raw', 'stg_');
    expect(tables.map((t) => t.Name)).toEqual(['stg_accounts', 'stg_contents']);
    expect(glue.commandCalls(GetTablesCommand)[0]!.args[0].input).toEqual({ DatabaseName: 'raw', Expression: 'stg_*' });
  });

  it('wraps a missing database as DestinationError naming it', async () => {
    glue.on(GetTablesCommand).rejects(notFound('Database nope not found.'));
    const error = await rejection(catalog().listTables('nope'));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error.message).toBe('Glue GetTables nope failed: EntityNotFoundException: Database nope not found.');
  });
});
