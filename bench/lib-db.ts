/**
 * PostgreSQL side of the benchmark (bench databases, the project's own generator, the 1 % change rounds) and the
 * machine description printed at the top of the report.
 */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { DuckDBInstance } from '@duckdb/node-api';
import { DATAVISION_TABLES } from '../src/demo/datavision-generator.js';
import { profileSql, type Profile } from './lib-hard.js';

export const TABLES: readonly string[] = DATAVISION_TABLES;

/** The admin URL with another database name. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Safe database identifier (the bench only uses its own fixed names). */
function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`unexpected database name ${name}`);
  return name;
}

export async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: 'ingesta-bench' });
  await client.connect();
  try {
    await client.query("SET TimeZone = 'UTC'");
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`));
}

export interface Generated {
  readonly database: string;
  readonly profile: Profile;
  readonly accounts: number;
  readonly generateMs: number;
  readonly vacuumMs: number;
  readonly rows: Record<string, number>;
  readonly totalRows: number;
  readonly sizeBytes: number;
}

/** Drops and recreates `name`, fills it with the DataVision generator (or its hard profile), then VACUUM ANALYZE. */
export async function createAndFill(adminUrl: string, name: string, accounts: number, profile: Profile): Promise<Generated> {
  await dropDatabase(adminUrl, name);
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE ${ident(name)}`));
  return withClient(databaseUrl(adminUrl, name), async (c) => {
    const t0 = performance.now();
    for (const sql of profileSql(profile, accounts)) await c.query(sql);
    const generateMs = performance.now() - t0;
    const t1 = performance.now();
    await c.query('VACUUM ANALYZE');
    const vacuumMs = performance.now() - t1;
    const rows: Record<string, number> = {};
    for (const t of TABLES) rows[t] = Number((await c.query(`SELECT count(*) AS n FROM public.${t}`)).rows[0].n);
    const size = Number((await c.query('SELECT pg_database_size(current_database()) AS s')).rows[0].s);
    const totalRows = Object.values(rows).reduce((a, b) => a + b, 0);
    return { database: name, profile, accounts, generateMs, vacuumMs, rows, totalRows, sizeBytes: size };
  });
}

export interface ChangeRound {
  readonly round: number;
  readonly contents: number;
  readonly contentAttributes: number;
  readonly ms: number;
  /** PostgreSQL's now() just before the change (text): `updated_at >= since` selects exactly the rows it changed. */
  readonly since: string;
}

/** The rows whose key % modulus = remainder (key: content_id, attribute_id). */
export interface KeySlice {
  readonly modulus: number;
  readonly remainder: number;
}

/**
 * Round r changes 1 % (1 / modulus) of contents and of content_attributes (key % modulus = r % modulus), stamping updated_at = now(),
 * then VACUUM ANALYZE on the two tables so neither the incremental nor the full read pays for hint bits alone.
 * Before that, the rows changed by round r − 1 are moved one day back (updated_at − 1 day): as if the runs were further
 * apart than the lag window, so each round's incremental run reads its own 1 %, not every earlier round's too.
 */
export function changeOnePercent(url: string, round: number, modulus = 100): Promise<ChangeRound> {
  const previous = round > 1 ? { modulus, remainder: (round + modulus - 1) % modulus } : undefined;
  return changeSlice(url, round, { modulus, remainder: round % modulus }, previous);
}

/**
 * The change of one round: the rows of `previous` (the slice the round before changed) moved one day back, then the
 * rows of `slice` (none when undefined) changed and stamped updated_at = now() (title / values get ' r<round>'), then
 * VACUUM ANALYZE of the two tables. Slices of any size: 1 / modulus of each table.
 */
export async function changeSlice(url: string, round: number, slice: KeySlice | undefined, previous: KeySlice | undefined): Promise<ChangeRound> {
  const where = (key: string, s: KeySlice) => `${key} % ${Math.trunc(s.modulus)} = ${Math.trunc(s.remainder)}`;
  return withClient(url, async (c) => {
    const t0 = performance.now();
    if (previous) {
      await c.query(`UPDATE public.contents SET updated_at = updated_at - interval '1 day' WHERE ${where('content_id', previous)}`);
      await c.query(`UPDATE public.content_attributes SET updated_at = updated_at - interval '1 day' WHERE ${where('attribute_id', previous)}`);
    }
    let contents = 0;
    let contentAttributes = 0;
    const since = String((await c.query<{ now: string }>('SELECT now()::timestamp::text AS now')).rows[0]!.now);
    if (slice) {
      const a = await c.query(`UPDATE public.contents SET updated_at = now(), title = left(title || ' r${round}', 300) WHERE ${where('content_id', slice)}`);
      const b = await c.query(
        `UPDATE public.content_attributes SET updated_at = now(),
           decimal_value = CASE WHEN decimal_value IS NOT NULL THEN decimal_value + 1 END,
           string_value = CASE WHEN string_value IS NOT NULL THEN left(string_value || ' r${round}', 500) END
         WHERE ${where('attribute_id', slice)}`,
      );
      contents = a.rowCount ?? 0;
      contentAttributes = b.rowCount ?? 0;
    }
    await c.query('VACUUM ANALYZE public.contents, public.content_attributes');
    return { round, contents, contentAttributes, ms: performance.now() - t0, since };
  });
}

export interface Machine {
  readonly cpu: string;
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly kernel: string;
  readonly node: string;
  readonly postgres: string;
  readonly duckdb: string;
}

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) return m[1].trim();
  } catch {
    /* not Linux */
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

export async function describeMachine(adminUrl: string): Promise<Machine> {
  const postgres = await withClient(adminUrl, async (c) => String((await c.query('SELECT version() AS v')).rows[0].v));
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  const duckdb = String((await conn.runAndReadAll('SELECT version() AS v')).getRowObjectsJS()[0]?.v);
  conn.closeSync();
  instance.closeSync();
  return {
    cpu: cpuModel(),
    cpus: os.cpus().length,
    memoryBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres,
    duckdb,
  };
}
