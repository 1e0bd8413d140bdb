import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AthenaClient } from '@aws-sdk/client-athena';
import { AthenaQueryRunner } from '../../../src/destination/athena/athena-query-runner.js';
import { AthenaStandin } from './athena.js';
import { Engine } from './executor.js';
import { AwsFault, GlueStandin, type GlueTable } from './glue.js';

/**
 * A loopback stand-in for Glue and Athena (AWS JSON 1.1 protocol) that executes: Glue keeps an in-memory catalog,
 * Athena parses each statement with the engine's grammar and runs it on an embedded DuckDB over the Parquet objects
 * s3rver holds under `s3Root` (Iceberg tables live in DuckDB). See glue.ts and athena.ts for what it refuses.
 */
export interface AthenaStandinServer {
  readonly url: string;
  readonly glue: GlueStandin;
  readonly athena: AthenaStandin;
  /** Glue databases by (lower-case) name. */
  readonly databases: Map<string, Record<string, unknown>>;
  /** "db.table" → the Glue table. */
  readonly tables: Map<string, GlueTable>;
  /** Every Athena statement received, in order. */
  readonly statements: string[];
  /** Every operation called (Glue and Athena), in order. */
  readonly calls: string[];
  /** Every request body, raw, to scan for secrets. */
  readonly bodies: string[];
  /**
   * Runs `sql` on the stand-in through ingesta's own Athena client code (StartQueryExecution, polling,
   * GetQueryResults page by page) and returns the rows as an Athena reader gets them: column → text or null.
   */
  athenaQuery(sql: string, database?: string): Promise<Record<string, string | null>[]>;
  stop(): Promise<void>;
}

export async function startAthenaStandin(s3Root: string): Promise<AthenaStandinServer> {
  const engine = await Engine.start(s3Root);
  const glue = new GlueStandin(engine);
  const athena = new AthenaStandin(glue, engine);
  const calls: string[] = [];
  const bodies: string[] = [];

  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      bodies.push(body);
      const target = String(req.headers['x-amz-target'] ?? '');
      const [service, op = ''] = target.split('.');
      calls.push(op);
      const input = body ? (JSON.parse(body) as Record<string, unknown>) : {};
      const answer = service === 'AWSGlue' ? glue.handle(op, input) : service === 'AmazonAthena' ? athena.handle(op, input) : Promise.reject(new AwsFault('UnknownOperationException', `unknown target ${target}`));
      answer.then(
        (out) => {
          res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
          res.end(JSON.stringify(out));
        },
        (error: unknown) => {
          const fault = error instanceof AwsFault ? error : new AwsFault('InternalServiceException', String(error));
          res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': fault.type });
          res.end(JSON.stringify({ __type: fault.type, message: fault.message }));
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const client = new AthenaClient({ region: 'us-east-1', endpoint: url, credentials: { accessKeyId: 'STANDIN', secretAccessKey: 'STANDIN' } });
  return {
    url,
    glue,
    athena,
    databases: glue.databases,
    tables: glue.tables,
    statements: athena.statements,
    calls,
    bodies,
    async athenaQuery(sql, database) {
      const runner = new AthenaQueryRunner(client, {
        workGroup: 'primary', catalog: 'AwsDataCatalog', outputLocation: 's3://lake/athena-results/', database, pollMinMs: 1, pollMaxMs: 5,
      });
      const r = await runner.query(sql);
      return r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i] ?? null])));
    },
    async stop() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      engine.close();
    },
  };
}
