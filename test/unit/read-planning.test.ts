import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogTable } from '../../src/catalog/catalog.js';
import type { TableState } from '../../src/destination/destination.js';
import { ConfigError, SourceError } from '../../src/errors.js';
import { introspectAll } from '../../src/source/postgres/catalog-introspection.js';
import { planReads } from '../../src/pipeline/plan-reads.js';
import type { TableRead } from '../../src/pipeline/table-read.js';
import type { PipelineEvent } from '../../src/pipeline/events.js';
import type { ReconcileMode } from '../../src/catalog/reconcile-mode.js';
import { destinationNames, mapColumn } from '../../src/normalize/column-mapping.js';
import { rejection } from '../helpers/expect-error.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/**
 * Read planning (pipeline/plan-reads.ts planReads, source/postgres/table-query.ts) on real PostgreSQL: which read each
 * table gets, and — by running the planned SELECT — which rows it actually reads.
 */
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('ingesta_plan');
  await db.client.query(`
    CREATE TABLE ev (id int PRIMARY KEY, updated_at timestamptz, created_at timestamptz);
    INSERT INTO ev VALUES
      (1, '2024-01-01 08:00:00+00', '2024-01-01'), (2, '2024-01-01 09:30:00+00', '2024-01-01'),
      (3, '2024-01-01 10:00:00+00', '2024-01-01'), (4, '2024-01-01 10:00:00.000001+00', '2024-01-01'),
      (5, '2024-01-01 09:59:59.999999+00', '2024-01-01'), (6, NULL, '2024-01-01'), (7, '2024-01-02 00:00:00.654321+00', '2024-01-01');
    CREATE TABLE ev_naive (id int PRIMARY KEY, at timestamp);
    INSERT INTO ev_naive VALUES (1, '2024-01-01 08:00:00'), (2, '2024-01-01 09:00:00'), (3, '2024-01-01 10:00:00'), (4, NULL),
      (5, now()::timestamp + interval '3 days');
    CREATE TABLE ev_date (id int PRIMARY KEY, day date);
    INSERT INTO ev_date VALUES (1, '2024-01-01'), (2, '2024-01-04'), (3, '2024-01-05'), (4, NULL);
    CREATE TABLE ev_num (id int PRIMARY KEY, version bigint);
    INSERT INTO ev_num VALUES (1, 1), (2, 5), (3, 10), (4, NULL);
    CREATE TABLE ev_future (id int PRIMARY KEY, at timestamptz);
    INSERT INTO ev_future VALUES (1, '2024-01-01 00:00:00+00'), (2, now() + interval '1 day'), (3, now() + interval '2 days'), (4, NULL);
    CREATE DOMAIN stamp AS timestamptz;
    CREATE TABLE ev_dom (id int PRIMARY KEY, at stamp);
    INSERT INTO ev_dom VALUES (1, '2024-01-01 08:00:00+00'), (2, '2024-01-01 09:30:00+00'), (3, '2024-01-01 10:00:00+00'), (4, now() + interval '1 day');
    CREATE TABLE ev_empty (id int PRIMARY KEY, at timestamptz);
    CREATE TABLE ev_bytes (id bytea PRIMARY KEY, at timestamptz);
    INSERT INTO ev_bytes VALUES ('\\x01', '2024-01-01 10:00:00+00');
    CREATE TABLE ev_case ("Id" int, id int PRIMARY KEY, at timestamptz);
    INSERT INTO ev_case VALUES (7, 1, '2024-01-01 10:00:00+00'), (7, 2, NULL);
    CREATE TABLE ev_allnull (id int PRIMARY KEY, at timestamptz);
    INSERT INTO ev_allnull VALUES (1, NULL), (2, NULL);
  `);
});

afterAll(async () => {
  await db?.drop();
});

function table(name: string, cursorColumn: string | undefined, extra: Partial<CatalogTable> = {}, lag?: string): CatalogTable {
  return {
    name, schema: 'public', primaryKey: ['id'], writeDisposition: 'merge', schemaContract: 'evolve', unnest: [],
    incremental: cursorColumn ? { cursorColumn, lag, reconcile: undefined } : undefined,
    freshnessColumn: undefined, freshnessHours: 24, freshnessTimezone: 'UTC',
    severity: { row_count: 'fail', duplicates: 'fail', referential_integrity: 'fail', freshness: 'warn' }, checks: [], ...extra,
  };
}

interface Options {
  /** The stored cursor (undefined: no state for the table). */
  previous?: string | null;
  /** The stored cursor's column, when it differs from the catalog's. */
  stateColumn?: string;
  exists?: boolean;
  refresh?: boolean;
  defaultLagSeconds?: number;
  reconcile?: ReconcileMode;
  /** Destination naming rule (default: keep the source names). */
  naming?: { caseSensitive: boolean; lowerCase: boolean };
}

/** Plans one table's read inside a snapshot, as the pipeline does, and runs its SELECT: the ids it reads. */
async function plan(t: CatalogTable, o: Options = {}): Promise<{ read: TableRead; ids: number[]; events: PipelineEvent[]; now: string }> {
  const events: PipelineEvent[] = [];
  await db.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const now = (await db.client.query<{ now: string }>('SELECT now()::text AS now')).rows[0]!.now;
    const sources = await introspectAll(db.client, [t]);
    const sourceColumns = sources.get(t.name)!.columns;
    const names = o.naming ? destinationNames(sourceColumns.map((c) => c.name), o.naming) : sourceColumns.map((c) => c.name);
    const columns = new Map([[t.name, sourceColumns.map((c, i) => mapColumn(c, names[i]))]]);
    const state = new Map<string, TableState>(
      o.previous === undefined ? [] : [[t.name, { table: t.name, cursorColumn: o.stateColumn ?? t.incremental!.cursorColumn, cursorValue: o.previous, runId: 'r0' }]],
    );
    const [read] = await planReads(
      db.client,
      {
        tables: [t], state, existing: new Set(o.exists === false ? [] : [t.name]), refresh: new Set(o.refresh ? [t.name] : []),
        reconcile: o.reconcile ? new Map([[t.name, o.reconcile]]) : undefined, defaultLagSeconds: o.defaultLagSeconds ?? 0,
      },
      sources, columns, (e) => events.push(e),
    );
    const rows = (await db.client.query<Record<string, string>>(read!.select)).rows;
    const key = read!.entry.primaryKey[0]!;
    return { read: read!, ids: rows.map((r) => Number(r[key])).sort((a, b) => a - b), events, now };
  } finally {
    await db.client.query('ROLLBACK');
  }
}

const warnings = (events: PipelineEvent[]) => events.filter((e) => e.type === 'warning').map((e) => (e as { message: string }).message);

describe('full or incremental', () => {
  const ev = table('ev', 'updated_at');
  const all = [1, 2, 3, 4, 5, 6, 7];

  it('first load (no stored cursor): full, every row, next cursor = max at the snapshot, exact to the microsecond', async () => {
    const { read, ids } = await plan(ev);
    expect(read.mode).toBe('full');
    expect(read.where).toBeUndefined();
    expect(read.entry.replaceAll).toBe(true);
    expect(read.entry.dropRemovedColumns).toBe(false);
    expect(read.entry.cursor).toEqual({ column: 'updated_at', columnType: 'timestamp with time zone', previous: null, lowerBound: null, next: '2024-01-02 00:00:00.654321+00' });
    expect(ids).toEqual(all);
  });

  it('stored cursor and table in the destination: incremental, rows >= cursor plus NULL cursors', async () => {
    const { read, ids } = await plan(ev, { previous: '2024-01-01 10:00:00+00' });
    expect(read.mode).toBe('incremental');
    expect(read.entry.replaceAll).toBe(false);
    expect(read.entry.cursor).toMatchObject({ previous: '2024-01-01 10:00:00+00', lowerBound: '2024-01-01 10:00:00+00', next: '2024-01-02 00:00:00.654321+00' });
    expect(ids).toEqual([3, 4, 6, 7]);
  });

  it.each<[string, Options]>([
    ['the table is missing in the destination', { previous: '2024-01-01 10:00:00+00', exists: false }],
    ['the stored cursor is NULL (the last load saw no cursor value)', { previous: null }],
    ['the cursor column changed in the catalog', { previous: '2024-01-01', stateColumn: 'created_at' }],
  ])('full when %s', async (_why, options) => {
    const { read, ids } = await plan(ev, options);
    expect(read.mode).toBe('full');
    expect(read.entry.replaceAll).toBe(true);
    expect(read.entry.cursor).toMatchObject({ previous: null, lowerBound: null, next: '2024-01-02 00:00:00.654321+00' });
    expect(ids).toEqual(all);
  });

  it('--full-refresh: full, and columns gone from the source are dropped', async () => {
    const { read, ids } = await plan(ev, { previous: '2024-01-01 10:00:00+00', refresh: true });
    expect(read.mode).toBe('full');
    expect(read.entry.dropRemovedColumns).toBe(true);
    expect(ids).toEqual(all);
  });

  it('a replace table with a cursor is read in full (the cursor is still recorded)', async () => {
    const { read, ids } = await plan(table('ev', 'updated_at', { writeDisposition: 'replace' }), { previous: '2024-01-01 10:00:00+00' });
    expect(read.mode).toBe('full');
    expect(read.entry.cursor?.next).toBe('2024-01-02 00:00:00.654321+00');
    expect(ids).toEqual(all);
  });

  it('a table without a cursor: full, no cursor', async () => {
    const { read, ids } = await plan(table('ev', undefined));
    expect(read.mode).toBe('full');
    expect(read.entry.cursor).toBeUndefined();
    expect(ids).toEqual(all);
  });

  it('key reconciliation follows only an incremental read', async () => {
    expect((await plan(ev, { previous: '2024-01-01 10:00:00+00', reconcile: 'always' })).read.reconcile).toBe('always');
    expect((await plan(ev, { previous: '2024-01-01 10:00:00+00', reconcile: 'auto' })).read.reconcile).toBe('auto');
    expect((await plan(ev, { reconcile: 'always' })).read.reconcile).toBe('never');
  });
});

describe('the lag window', () => {
  it.each<[string, string | undefined, number, string, number[]]>([
    ['no lag', undefined, 0, '2024-01-01 10:00:00+00', [3, 4, 6, 7]],
    ['catalog lag 1h', '1h', 0, '2024-01-01 09:00:00+00', [2, 3, 4, 5, 6, 7]],
    ['catalog lag of one microsecond', '0.000001s', 0, '2024-01-01 09:59:59.999999+00', [3, 4, 5, 6, 7]],
    ['the run default (30 minutes) when the catalog sets none', undefined, 1800, '2024-01-01 09:30:00+00', [2, 3, 4, 5, 6, 7]],
    ['catalog lag 0 overrides the run default', '0', 1800, '2024-01-01 10:00:00+00', [3, 4, 6, 7]],
  ])('timestamptz, %s', async (_name, lag, defaultLagSeconds, bound, ids) => {
    const r = await plan(table('ev', 'updated_at', {}, lag), { previous: '2024-01-01 10:00:00+00', defaultLagSeconds });
    expect(r.read.entry.cursor?.lowerBound).toBe(bound);
    expect(r.ids).toEqual(ids);
  });

  it('naive timestamp: the window in its own type', async () => {
    const r = await plan(table('ev_naive', 'at', {}, '1h'), { previous: '2024-01-01 10:00:00' });
    expect(r.read.entry.cursor).toMatchObject({ columnType: 'timestamp without time zone', lowerBound: '2024-01-01 09:00:00' });
    expect(r.ids).toEqual([2, 3, 4, 5]);
  });

  it('date: a lag shorter than a day still re-reads the day before (the bound is cast back to date)', async () => {
    const r = await plan(table('ev_date', 'day', {}, '1h'), { previous: '2024-01-05' });
    expect(r.read.entry.cursor).toMatchObject({ columnType: 'date', lowerBound: '2024-01-04', next: '2024-01-05' });
    expect(r.ids).toEqual([2, 3, 4]);
    const none = await plan(table('ev_date', 'day'), { previous: '2024-01-05' });
    expect(none.ids).toEqual([3, 4]);
  });

  it('numeric cursor: no lag (re-read from its last value), next = max, NULL cursors re-read', async () => {
    const r = await plan(table('ev_num', 'version', {}, '1h'), { previous: '5' });
    expect(r.read.entry.cursor).toEqual({ column: 'version', columnType: 'bigint', previous: '5', lowerBound: '5', next: '10' });
    expect(r.ids).toEqual([2, 3, 4]);
  });
});

describe('NULL cursors, empty tables, the future-dated cap', () => {
  it('an empty table and a table whose cursors are all NULL keep a NULL cursor (not now())', async () => {
    expect((await plan(table('ev_empty', 'at'))).read.entry.cursor?.next).toBeNull();
    const allNull = await plan(table('ev_allnull', 'at'));
    expect(allNull.read.entry.cursor?.next).toBeNull();
    expect(allNull.ids).toEqual([1, 2]);
    expect(allNull.events).toEqual([]);
  });

  it('rows stamped in the future: the cursor stops at the snapshot time, a warning counts them, and the next run re-reads them', async () => {
    const t = table('ev_future', 'at');
    const first = await plan(t);
    expect(first.read.entry.cursor?.next).toBe(first.now);
    expect(warnings(first.events)).toEqual(["2 rows have at later than the source's current time; the cursor stays at the snapshot time, so they are re-read on every run until then."]);
    const second = await plan(t, { previous: first.read.entry.cursor!.next });
    expect(second.read.mode).toBe('incremental');
    expect(second.ids).toEqual([2, 3, 4]);
  });

  it('naive timestamp: capped at the snapshot time read in the session zone (UTC)', async () => {
    const r = await plan(table('ev_naive', 'at'));
    const nowNaive = (await db.query<{ v: string }>(`SELECT ($1::timestamptz AT TIME ZONE 'UTC')::text AS v`, [r.now]))[0]!.v;
    expect(r.read.entry.cursor?.next).toBe(nowNaive);
    expect(warnings(r.events)).toHaveLength(1);
  });

  it('a cursor of a domain over timestamptz gets the lag window and the future cap of its base type', async () => {
    const first = await plan(table('ev_dom', 'at', {}, '1h'));
    expect(first.read.entry.cursor?.columnType).toBe('timestamp with time zone');
    expect(first.read.entry.cursor?.next).toBe(first.now);
    expect(warnings(first.events)).toHaveLength(1);
    const r = await plan(table('ev_dom', 'at', {}, '1h'), { previous: '2024-01-01 10:30:00+00' });
    expect(r.read.entry.cursor?.lowerBound).toBe('2024-01-01 09:30:00+00');
    expect(r.ids).toEqual([2, 3, 4]);
  });
});

describe('destination names and key reconciliation', () => {
  it('a column renamed by the name mapping: the SELECT reads the source column under its destination name, the key and cursor follow', async () => {
    const { read, ids } = await plan(table('ev_case', 'at'), { previous: '2024-01-01 10:00:00+00', naming: { caseSensitive: false, lowerCase: false } });
    expect(read.entry.primaryKey).toEqual(['id__2']);
    expect(read.entry.columns.map((c) => [c.sourceName, c.name])).toEqual([['Id', 'Id'], ['id', 'id__2'], ['at', 'at']]);
    expect(read.entry.cursor?.column).toBe('at');
    expect(ids).toEqual([1, 2]);
  });

  it('a key PostgreSQL cannot read back as text (bytea): --reconcile refuses before reading, the automatic mode does not reconcile', async () => {
    const t = table('ev_bytes', 'at');
    const e = await rejection(plan(t, { previous: '2024-01-01 00:00:00+00', reconcile: 'always' }));
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.message).toContain('Table ev_bytes: key reconciliation needs key columns whose text PostgreSQL can read back; id (bytea) cannot.');
    // ids of a bytea key are not numbers: only the decision is checked
    const auto = await plan(t, { previous: '2024-01-01 00:00:00+00', reconcile: 'auto' }).catch((error: unknown) => error);
    expect(auto).not.toBeInstanceOf(Error);
    expect((auto as { read: TableRead }).read.reconcile).toBe('never');
  });
});

describe('failures', () => {
  it('a stored cursor PostgreSQL cannot read as the cursor type is a SourceError naming the table', async () => {
    const e = await rejection(plan(table('ev', 'updated_at', {}, '1h'), { previous: 'yesterday-ish' }));
    expect(e).toBeInstanceOf(SourceError);
    expect(e.message).toMatch(/^Planning the read of public\.ev failed: /);
  });
});
