import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback stand-in for the Glue and Athena control planes (AWS JSON 1.1 protocol), for end-to-end tests of the
 * real CLI: Glue keeps an in-memory catalog; Athena records each statement and reports it SUCCEEDED with no rows
 * (no SQL engine runs here). Only what ingesta calls is implemented.
 */
export interface FakeAws {
  readonly url: string;
  readonly databases: Map<string, Record<string, unknown>>;
  /** "db.table" → TableInput as last written. */
  readonly tables: Map<string, Record<string, unknown>>;
  readonly statements: string[];
  readonly calls: string[];
  /** Every request body, raw, to scan for secrets. */
  readonly bodies: string[];
  stop(): Promise<void>;
}

class AwsFault extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startFakeAws(): Promise<FakeAws> {
  const databases = new Map<string, Record<string, unknown>>();
  const tables = new Map<string, Record<string, unknown>>();
  const statements: string[] = [];
  const calls: string[] = [];
  const bodies: string[] = [];
  const queries = new Map<string, string>();

  const handle = (target: string, input: Record<string, any>): unknown => {
    const [, op] = target.split('.');
    calls.push(op!);
    const key = (db: string, name: string) => `${db}.${name}`;
    switch (op) {
      case 'CreateDatabase': {
        const name = input.DatabaseInput.Name as string;
        if (databases.has(name)) throw new AwsFault('AlreadyExistsException', `Database ${name} already exists`);
        databases.set(name, input.DatabaseInput);
        return {};
      }
      case 'GetDatabase': {
        const db = databases.get(input.Name);
        if (!db) throw new AwsFault('EntityNotFoundException', `Database ${input.Name} not found`);
        return { Database: db };
      }
      case 'CreateTable': {
        const k = key(input.DatabaseName, input.TableInput.Name);
        if (!databases.has(input.DatabaseName)) throw new AwsFault('EntityNotFoundException', `Database ${input.DatabaseName} not found`);
        if (tables.has(k)) throw new AwsFault('AlreadyExistsException', `Table ${k} already exists`);
        tables.set(k, { ...input.TableInput, OpenTableFormatInput: input.OpenTableFormatInput });
        return {};
      }
      case 'UpdateTable': {
        const k = key(input.DatabaseName, input.TableInput.Name);
        if (!tables.has(k)) throw new AwsFault('EntityNotFoundException', `Table ${k} not found`);
        tables.set(k, { ...tables.get(k), ...input.TableInput });
        return {};
      }
      case 'GetTable': {
        const t = tables.get(key(input.DatabaseName, input.Name));
        if (!t) throw new AwsFault('EntityNotFoundException', `Table ${input.Name} not found`);
        return { Table: { ...t, DatabaseName: input.DatabaseName } };
      }
      case 'GetTables': {
        const list = [...tables.entries()].filter(([k]) => k.startsWith(`${input.DatabaseName}.`)).map(([, t]) => ({ ...t, DatabaseName: input.DatabaseName }));
        return { TableList: list };
      }
      case 'DeleteTable': {
        const k = key(input.DatabaseName, input.Name);
        if (!tables.delete(k)) throw new AwsFault('EntityNotFoundException', `Table ${k} not found`);
        return {};
      }
      case 'StartQueryExecution': {
        const id = `q-${statements.length + 1}`;
        statements.push(input.QueryString);
        queries.set(id, input.QueryString);
        return { QueryExecutionId: id };
      }
      case 'GetQueryExecution':
        return {
          QueryExecution: {
            QueryExecutionId: input.QueryExecutionId,
            Query: queries.get(input.QueryExecutionId),
            Status: { State: 'SUCCEEDED' },
            Statistics: { DataScannedInBytes: 0 },
          },
        };
      case 'GetQueryResults':
        return { ResultSet: { ResultSetMetadata: { ColumnInfo: [] }, Rows: [] } };
      case 'StopQueryExecution':
        return {};
      default:
        throw new AwsFault('UnknownOperationException', `fake AWS does not implement ${target}`);
    }
  };

  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(body);
      const target = String(req.headers['x-amz-target'] ?? '');
      try {
        const out = handle(target, body ? (JSON.parse(body) as Record<string, unknown>) : {});
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify(out));
      } catch (error) {
        const fault = error instanceof AwsFault ? error : new AwsFault('InternalServerException', String(error));
        res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': fault.type });
        res.end(JSON.stringify({ __type: fault.type, message: fault.message }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    databases,
    tables,
    statements,
    calls,
    bodies,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
