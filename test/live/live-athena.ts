import { AthenaClient } from '@aws-sdk/client-athena';
import { GetTablesCommand, GlueClient } from '@aws-sdk/client-glue';
import { AthenaQueryRunner } from '../../src/destination/athena/athena-query-runner.js';
import type { AthenaReader, ReadableTable } from '../helpers/athena-compare.js';
import type { RoleCredentials } from './scratch-role.js';

/**
 * What an Athena reader of the scratch database sees, through real Athena and Glue, in the shape the loopback
 * comparison takes (test/helpers/athena-compare.ts): `athenaQuery` runs SQL and returns rows as Athena's text,
 * `aws.tables` the Glue tables (`<database>.<table>` → kind and columns), reloaded by `refresh()`.
 */
export interface LiveAthena extends AthenaReader {
  refresh(): Promise<void>;
  close(): void;
}

export interface LiveAthenaOptions {
  region: string;
  workGroup: string;
  database: string;
  /** s3://… for the results of the comparison's queries (inside the scratch prefix). */
  outputLocation: string;
  credentials: RoleCredentials;
  /** One endpoint for Athena and Glue instead of AWS's (the offline test points it at the loopback stand-in). */
  endpoint?: string;
}

export function liveAthena(opts: LiveAthenaOptions): LiveAthena {
  const credentials = { accessKeyId: opts.credentials.AWS_ACCESS_KEY_ID, secretAccessKey: opts.credentials.AWS_SECRET_ACCESS_KEY, sessionToken: opts.credentials.AWS_SESSION_TOKEN };
  const client = { region: opts.region, credentials, ...(opts.endpoint ? { endpoint: opts.endpoint } : {}) };
  const athena = new AthenaClient(client);
  const glue = new GlueClient(client);
  const runner = new AthenaQueryRunner(athena, { workGroup: opts.workGroup, catalog: 'AwsDataCatalog', outputLocation: opts.outputLocation, database: opts.database, timeoutMs: 10 * 60_000 });
  const tables = new Map<string, ReadableTable>();
  return {
    aws: { tables },
    async athenaQuery(sql) {
      const r = await runner.query(sql);
      return r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i] ?? null])));
    },
    async refresh() {
      tables.clear();
      let token: string | undefined;
      do {
        const out = await glue.send(new GetTablesCommand({ DatabaseName: opts.database, NextToken: token }));
        for (const t of out.TableList ?? []) {
          const kind = (t.Parameters?.table_type ?? '').toUpperCase() === 'ICEBERG' ? 'iceberg' : 'parquet';
          const columns = (t.StorageDescriptor?.Columns ?? []).map((c) => ({ name: c.Name!.toLowerCase(), type: (c.Type ?? '').toLowerCase() }));
          tables.set(`${opts.database}.${t.Name!.toLowerCase()}`, { kind, columns });
        }
        token = out.NextToken;
      } while (token);
    },
    close() {
      athena.destroy();
      glue.destroy();
    },
  };
}
