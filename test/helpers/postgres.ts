import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { datavisionSql } from '../../src/demo/datavision-generator.js';

/** The machine's PostgreSQL (trust auth); TEST_PG_URL overrides it. */
export const ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const raw = { getTypeParser: () => (v: string) => v } as unknown as pg.CustomTypesConfig;

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** A client on the test database; values come back as PostgreSQL text. */
  readonly client: pg.Client;
  query<T extends pg.QueryResultRow = Record<string, string | null>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, types: raw });
  await client.connect();
  await client.query("SET TimeZone = 'UTC'");
  return client;
}

/** A fresh database for one test file, dropped afterwards; never depends on leftovers. */
export async function createTestDatabase(prefix = 'ingesta_t'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = await connect(ADMIN_URL);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  const client = await connect(url.toString());
  return {
    name,
    url: url.toString(),
    client,
    async query(sql, params) {
      return (await client.query(sql, params)).rows;
    },
    async drop() {
      await client.end().catch(() => undefined);
      const a = await connect(ADMIN_URL);
      await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/** Creates and fills the 8 DataVision tables with the generator the demo uses. */
export async function seedDataVision(db: TestDatabase, accounts: number, anchor?: string): Promise<void> {
  for (const sql of datavisionSql({ accounts, ...(anchor ? { anchor } : {}) })) await db.client.query(sql);
}
