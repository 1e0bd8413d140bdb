import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATAVISION_TABLES } from '../../src/demo/datavision-generator.js';
import { extractInParallel } from '../../src/pipeline/parallel-extract.js';
import type { TableRead } from '../../src/pipeline/table-read.js';
import type { PackageTable } from '../../src/package/load-package.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { KEYS } from '../helpers/datavision.js';
import { duckColumnTypes, duckQuery, duckTable, expectTablesEqualSource, withDuckDb } from '../helpers/duckdb.js';
import { connect, createTestDatabase, seedDataVision, type TestDatabase } from '../helpers/postgres.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { localPackageRoot } from '../helpers/packages.js';

/**
 * Source faults (issue #8, "prove nothing is lost"): the connection to PostgreSQL cut before, during introspection,
 * at the snapshot export and in the middle of a COPY (through a TCP proxy), the backend terminated by the server,
 * statement_timeout and lock_timeout, a table dropped or altered between runs. Each failing run must exit with its
 * code and a message naming the table and what to do, leave every destination table and the cursors exactly as
 * they were, leave no load package behind, and the next run must recover to equal the source.
 */

const DATASET = 'raw_datavision_local';

let db: TestDatabase;
let dir: string;
let duckdbPath: string;
let packages: string;
let proxy: TcpProxy;
let round = 0;
/** Faults injected into a run (for the README figures). */
let injected = 0;
/** COPY bytes of a full run of the 8 tables. */
let fullCopyBytes = 0;

const ingest = (...args: string[]) => runCli(['--env', 'local', '--duckdb-path', duckdbPath, '--source-url', proxy.url(db.name), ...args]);

/**
 * A digest of every table and of the cursors (as duckTableDigest computes it), and the number of load records:
 * one DuckDB open for all of them.
 */
async function digests(query?: (sql: string) => Promise<Record<string, unknown>[]>): Promise<Record<string, string>> {
  if (!query) return withDuckDb(duckdbPath, digests);
  const parts = [...DATAVISION_TABLES, '_ingesta_state'].map((t) => {
    const order = t === '_ingesta_state' ? 'table_name' : KEYS[t]!;
    return `SELECT '${t}' AS t, count(*)::VARCHAR || ':' || md5(coalesce(string_agg(CAST(x AS VARCHAR), chr(10) ORDER BY "${order}"), '')) AS d FROM ${duckTable(duckdbPath, DATASET, t)} x`;
  });
  parts.push(`SELECT '_ingesta_loads' AS t, count(*)::VARCHAR AS d FROM ${duckTable(duckdbPath, DATASET, '_ingesta_loads')}`);
  const rows = await query(parts.join(' UNION ALL '));
  return Object.fromEntries(rows.map((r) => [String(r.t), String(r.d)]));
}

async function expectEqualsSource(): Promise<void> {
  await expectTablesEqualSource(db, duckdbPath, DATASET, DATAVISION_TABLES.map((t) => [t, [KEYS[t]!]]));
}

/** Some inserts, updates and deletes, so a failed run had something to change (and must not have changed it). */
async function changeSource(): Promise<void> {
  round += 1;
  const r = round;
  await db.query(`UPDATE contents SET title = 'fault round ${r} ' || content_id, updated_at = now() WHERE content_id % 7 = ${r % 7}`);
  await db.query(`UPDATE content_attributes SET string_value = 'r${r}', updated_at = now() WHERE attribute_id % 9 = ${r % 9} AND string_value IS NOT NULL`);
  await db.query(`UPDATE accounts SET account_name = 'Account ' || account_id || ' r${r}', updated_at = now() WHERE account_id % 5 = ${r % 5}`);
  await db.query(`DELETE FROM subscription_payments WHERE payment_id % 97 = ${r % 97}`);
  await db.query(`INSERT INTO subscription_payments VALUES (${900000 + r}, 1, now(), ${r}.25, 'PayPal', 'Mensual')`);
}

function leftoverPackages(): string[] {
  return existsSync(packages) ? readdirSync(packages) : [];
}

function expectFailure(result: CliResult, code: number, ...patterns: RegExp[]): void {
  expect(result.code, `exit code; stderr: ${result.stderr}`).toBe(code);
  expect(result.stderr).not.toMatch(/unexpected error/);
  for (const p of patterns) expect(result.stderr).toMatch(p);
}

/**
 * One fault: change the source, inject, check the failure (exit code and message), that no table or cursor changed
 * and no package is left, that the run is recorded as failed with its message; then a plain run recovers.
 */
async function fault(
  inject: () => Promise<CliResult>,
  code: number,
  patterns: RegExp[],
  recover: string[] = [],
  { recorded = true }: { recorded?: boolean } = {},
): Promise<CliResult> {
  await changeSource();
  const before = await digests();
  const failed = await inject();
  injected += 1;
  proxy.disarm();
  expectFailure(failed, code, ...patterns);
  await withDuckDb(duckdbPath, async (query) => {
    expect(await digests(query)).toEqual(before);
    expect(leftoverPackages()).toEqual([]);
    if (recorded && /^ingesta run /m.test(failed.stdout)) {
      // the destination was opened: the run is recorded as failed, with the message it printed
      const last = await query(`SELECT status, message FROM ${DATASET}._ingesta_runs ORDER BY finished_at DESC LIMIT 1`);
      expect(last[0]!.status).toBe('failed');
      expect(failed.stderr).toContain(String(last[0]!.message));
    }
  });
  // the remedy (a --full-refresh of some tables loads only those), then a plain run
  for (const args of recover.length > 0 ? [recover, []] : [[]]) {
    const next = await ingest(...args);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).not.toMatch(/leftover load package/);
  }
  await expectEqualsSource();
  return failed;
}

const lost = /connection to PostgreSQL was lost/;
const unchanged = /destination is unchanged/;

beforeAll(async () => {
  db = await createTestDatabase();
  await seedDataVision(db, 400);
  // a view whose every row takes 10 ms: a slow read for statement_timeout
  await db.query(`CREATE FUNCTION slow_value(i integer) RETURNS integer LANGUAGE plpgsql VOLATILE AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN i; END $$`);
  await db.query(`CREATE VIEW slow_report AS SELECT slow_value(g) AS id, 'row ' || g AS label FROM generate_series(1, 1000) g`);
  dir = mkdtempSync(path.join(tmpdir(), 'ingesta-faults-'));
  duckdbPath = path.join(dir, 'dv.duckdb');
  packages = localPackageRoot(duckdbPath, DATASET);
  proxy = await startTcpProxy();
  const first = await ingest();
  expect(first.code, first.stderr).toBe(0);
  fullCopyBytes = proxy.stats.copyBytes;
});

afterAll(async () => {
  await proxy?.close();
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  console.log(`source-faults: ${injected} faults injected`);
});

describe('the connection to PostgreSQL is cut', () => {
  it('refused before anything starts (server down): exit 3 naming host and port, nothing created or changed', async () => {
    const down = await startTcpProxy();
    await down.refuse();
    const failed = await fault(
      () => runCli(['--env', 'local', '--duckdb-path', duckdbPath, '--source-url', down.url(db.name)]),
      3,
      [/Cannot connect to PostgreSQL/, new RegExp(`port=${down.port}`), /is the server running/],
    );
    expect(failed.stdout).not.toMatch(/ingesta run/); // the destination was never opened
  });

  it('while looking up a table named on the command line: exit 3 naming it', async () => {
    await fault(
      () => {
        proxy.cutOnQuery(/relkind IN .*relname = ANY/s);
        return ingest('--tables', 'accounts', 'slow_report');
      },
      3,
      [/Looking up table slow_report in the source failed/, lost, unchanged],
    );
  });

  it('during introspection inside the snapshot: exit 3 naming the table', async () => {
    await fault(
      () => {
        proxy.cutOnQuery(/a\.attname AS name/);
        return ingest();
      },
      3,
      [/Reading the definition of table public\.accounts failed/, lost, unchanged],
    );
  });

  it('at the start of the snapshot: exit 3 saying so (regression: an unexpected error, exit 1)', async () => {
    await fault(
      () => {
        proxy.cutOnQuery(/SELECT now\(\)::text AS now/);
        return ingest();
      },
      3,
      [/Starting the source snapshot failed/, lost, unchanged],
    );
  });

  it('--solo-validar cut while counting a table: exit 3 naming it (regression: an unexpected error, exit 1)', async () => {
    proxy.cutOnQuery(/count\(\*\)/);
    const r = await ingest('--solo-validar');
    injected += 1;
    proxy.disarm();
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/Counting the rows of public\.\w+ failed/);
    expect(r.stderr).toMatch(lost);
  });

  it('while planning an incremental read (cursor bounds): exit 3 naming the table', async () => {
    await fault(
      () => {
        proxy.cutOnQuery(/least\(max\("updated_at"\)/);
        return ingest();
      },
      3,
      [/Planning the read of public\.contents failed/, lost, unchanged],
    );
  });

  it('at the snapshot export to the second reader: exit 3, recorded as failed (regression: the failure record joined the open load transaction and was rolled back)', async () => {
    await fault(
      () => {
        proxy.cutOnQuery(/pg_export_snapshot/);
        return ingest();
      },
      3,
      [/Exporting the source snapshot/, lost, unchanged],
    );
  });

  it('the second reader connection is refused (the server went away after the first): exit 3', async () => {
    await fault(
      () => {
        proxy.onQuery(/pg_export_snapshot/, () => proxy.rejectNew(true));
        return ingest();
      },
      3,
      [/Cannot connect to PostgreSQL/],
    );
  });

  it('mid-COPY (after a fifth of the COPY data, FIN), two reader connections: exit 3 naming a table being extracted', async () => {
    const failed = await fault(
      () => {
        proxy.cutAfterCopyBytes(Math.round(fullCopyBytes / 5));
        return ingest();
      },
      3,
      [/Extracting table public\.\w+ failed/, lost, unchanged],
    );
    expect(proxy.stats.lastCutReason).toMatch(/COPY bytes/);
    expect(failed.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('mid-COPY with a TCP reset, one reader connection, on a later table: exit 3 naming it', async () => {
    // accounts (the first table) is ~6 % of the COPY data and subscriptions nearly nothing: 15 % lands in a later one
    await fault(
      () => {
        proxy.cutAfterCopyBytes(Math.round(fullCopyBytes * 0.15), { reset: true });
        return ingest('--max-connections', '1');
      },
      3,
      [/Extracting table public\.(contents|content_attributes|subscription_payments|accounts_subscription) failed/, unchanged],
    );
  });

  it('mid-COPY of an incremental read after a cut full refresh of the same tables: exit 3, cursors unchanged', async () => {
    await fault(
      () => {
        proxy.cutAfterCopyBytes(Math.round(fullCopyBytes / 20));
        return ingest('--full-refresh', 'contents', 'content_attributes');
      },
      3,
      [/Extracting table public\.(contents|content_attributes) failed/, lost, unchanged],
    );
  });

  it('the server terminates the backend mid-COPY (as a restart does, 57P01): exit 3 naming the table', async () => {
    const admin = await connect(db.url);
    try {
      await fault(
        async () => {
          proxy.throttle(Math.round(fullCopyBytes / 4)); // the COPY data would take 4 s: the termination lands inside it
          const base = proxy.stats.copyBytes;
          const running = ingest('--max-connections', '1');
          const started = Date.now();
          while (proxy.stats.copyBytes - base < fullCopyBytes / 20 && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 10));
          await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'ingesta' AND pid <> pg_backend_pid()`, [db.name]);
          return running;
        },
        3,
        [/Extracting table public\.\w+ failed: .*(terminating connection due to administrator command|not queryable|Connection terminated)/, lost, unchanged],
      );
    } finally {
      await admin.end();
    }
  });

  it('after the last COPY (the snapshot release): the cut is harmless, the load commits', async () => {
    await changeSource();
    proxy.cutOnQuery(/^ROLLBACK$/);
    const r = await ingest('--max-connections', '1');
    injected += 1;
    proxy.disarm();
    expect(r.code, r.stderr).toBe(0);
    expect(proxy.stats.lastCutReason).toMatch(/ROLLBACK/);
    expect(leftoverPackages()).toEqual([]);
    await expectEqualsSource();
  });
});

describe('a network that goes silent', () => {
  // regression: the source connection had no TCP keepalive, so a network that dies without FIN or RST (a failover, a
  // dropped NAT entry) left a COPY or a lock wait waiting forever; keepalive probes after 30 s of silence end it
  it('source connections probe with TCP keepalive while they wait (a dead peer fails the run instead of hanging it)', async () => {
    const locker = await connect(db.url);
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE');
      const running = ingest('--lock-timeout', '20s');
      // once ingesta's reader is blocked on the lock its socket is idle, and the kernel runs its keepalive timer
      // (`ss -o` shows timer:(keepalive,…)); a socket without keepalive shows no timer when idle
      let sockets = '';
      let idle = false;
      for (let i = 0; i < 200 && !idle; i += 1) {
        await new Promise((r) => setTimeout(r, 25));
        const waiting = await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'ingesta' AND wait_event_type = 'Lock'`, [db.name]);
        if (Number(waiting[0]!.n) === 0) continue;
        sockets = execFileSync('ss', ['-tnoH', 'state', 'established', 'dport', '=', `:${proxy.port}`], { encoding: 'utf8' });
        const lines = sockets.trim().split('\n').filter(Boolean);
        idle = lines.length > 0 && lines.every((l) => /timer:\(keepalive,/.test(l));
      }
      await locker.query('ROLLBACK');
      const r = await running;
      expect(r.code, r.stderr).toBe(0);
      expect(idle, `ingesta's sockets to the source:\n${sockets}`).toBe(true);
    } finally {
      await locker.end();
    }
  });
});

describe('timeouts on the source', () => {
  it('statement_timeout on a slow read: exit 3 naming the table and --statement-timeout', async () => {
    await fault(
      () => ingest('--tables', ...DATAVISION_TABLES, 'slow_report', '--statement-timeout', '1s'),
      3,
      [/Extracting table public\.slow_report failed: canceling statement due to statement timeout/, /--statement-timeout/, unchanged],
    );
  });

  it('lock_timeout on a full table held ACCESS EXCLUSIVE by another session: exit 3 naming it and --lock-timeout', async () => {
    const locker = await connect(db.url);
    try {
      await fault(
        async () => {
          await locker.query('BEGIN');
          await locker.query('LOCK TABLE accounts_subscription IN ACCESS EXCLUSIVE MODE');
          const r = await ingest('--lock-timeout', '0.5s');
          await locker.query('ROLLBACK');
          return r;
        },
        3,
        [/Locking table public\.accounts_subscription .*failed: canceling statement due to lock timeout/, /--lock-timeout/, unchanged],
      );
    } finally {
      await locker.end();
    }
  });

  it('lock_timeout on an incremental table: exit 3 naming it', async () => {
    const locker = await connect(db.url);
    try {
      await fault(
        async () => {
          await locker.query('BEGIN');
          await locker.query('LOCK TABLE content_attributes IN ACCESS EXCLUSIVE MODE');
          const r = await ingest('--lock-timeout', '0.5s');
          await locker.query('ROLLBACK');
          return r;
        },
        3,
        [/Locking table public\.content_attributes .*failed: canceling statement due to lock timeout/, /--lock-timeout/, unchanged],
      );
    } finally {
      await locker.end();
    }
  });

  it('a lock wait ended by statement_timeout (lock_timeout off): exit 3 naming the table', async () => {
    const locker = await connect(db.url);
    try {
      await fault(
        async () => {
          await locker.query('BEGIN');
          await locker.query('LOCK TABLE premium_features IN ACCESS EXCLUSIVE MODE');
          const r = await ingest('--lock-timeout', '0', '--statement-timeout', '1s');
          await locker.query('ROLLBACK');
          return r;
        },
        3,
        [/Locking table public\.premium_features .*failed: canceling statement due to statement timeout/, unchanged],
      );
    } finally {
      await locker.end();
    }
  });
});

describe('a failing reader stops the others', () => {
  // regression: with --max-connections > 1 the other reader kept extracting after the first failed, and a table it
  // finished after the load transaction was rolled back could still be handed to the loader (outside the transaction)
  it('a reader failing with another reader mid-table: nothing starts or finishes after the rejection, the other connection is closed', async () => {
    const events: string[] = [];
    let rejectedAt = -1;
    const ended: string[] = [];
    const fakeClient = (name: string) => {
      const listeners: (() => void)[] = [];
      return {
        name,
        listeners,
        end: async () => {
          ended.push(name);
          for (const l of listeners) l();
        },
      };
    };
    const a = fakeClient('a');
    const b = fakeClient('b');
    const read = (name: string) => ({ entry: { name } }) as unknown as TableRead;
    const extract = async (client: pg.Client, reads: readonly TableRead[]): Promise<PackageTable[]> => {
      const c = client as unknown as ReturnType<typeof fakeClient>;
      const name = reads[0]!.entry.name;
      events.push(`start ${name}`);
      await new Promise<void>((resolve, reject) => {
        const ms = name === 'fails' ? 20 : name === 'slow' ? 300 : 5;
        const timer = setTimeout(() => (name === 'fails' ? reject(new Error('lock timeout')) : resolve()), ms);
        c.listeners.push(() => {
          clearTimeout(timer);
          reject(new Error('Connection terminated'));
        });
      });
      events.push(`finish ${name}`);
      return [{ name } as PackageTable];
    };
    const outcome = extractInParallel([a, b] as unknown as pg.Client[], [read('slow'), read('fails'), read('later1'), read('later2')], extract).then(
      () => 'resolved',
      (e: unknown) => {
        rejectedAt = events.length;
        return (e as Error).message;
      },
    );
    expect(await outcome).toBe('lock timeout');
    await new Promise((r) => setTimeout(r, 400));
    expect(events.length, events.join(', ')).toBe(rejectedAt);
    expect(events).not.toContain('start later1');
    expect(events).not.toContain('finish slow');
    expect(ended).toEqual(['a']);
  });

  it('end to end: a table locked by another session, two reader connections: the lock wait at the snapshot times out, destination unchanged', async () => {
    const locker = await connect(db.url);
    try {
      await fault(
        async () => {
          await locker.query('BEGIN');
          await locker.query('LOCK TABLE subscriptions IN ACCESS EXCLUSIVE MODE');
          proxy.throttle(1_000_000);
          const r = await ingest('--lock-timeout', '0.5s');
          await locker.query('ROLLBACK');
          return r;
        },
        3,
        [/Locking table public\.subscriptions .*failed: canceling statement due to lock timeout/, unchanged],
      );
    } finally {
      await locker.end();
    }
  });
});

describe('a table dropped or altered between runs', () => {
  it('a catalog table dropped: exit 3 naming it, nothing changed; recreated, the next run recovers', async () => {
    await db.query('CREATE TABLE apf_saved AS TABLE account_premium_features');
    const failed = await fault(
      async () => {
        await db.query('DROP TABLE account_premium_features');
        const r = await ingest();
        await db.query(`CREATE TABLE account_premium_features (
          account_feature_id integer PRIMARY KEY, account_id integer NOT NULL REFERENCES accounts (account_id),
          feature_id integer NOT NULL REFERENCES premium_features (feature_id), purchase_date timestamp NOT NULL, amount_paid numeric(10,2) NOT NULL)`);
        await db.query('INSERT INTO account_premium_features SELECT * FROM apf_saved');
        await db.query('DROP TABLE apf_saved');
        return r;
      },
      3,
      [/Table public\.account_premium_features does not exist in the source database/, /dropped or renamed/, unchanged],
    );
    expect(failed.stderr).toContain('--tables');
  });

  // regression: a catalog table without a declared key (the source's is used) that was dropped was reported as
  // "declared merge but has no primary key" (exit 2), which sends the user to the catalog instead of the source
  it('a dropped catalog table whose key comes from the source: exit 3 saying it does not exist, not a missing key', async () => {
    await db.query('CREATE TABLE keyless_events (event_id integer PRIMARY KEY, updated_at timestamp NOT NULL)');
    await db.query(`INSERT INTO keyless_events VALUES (1, '2026-01-01 00:00:00')`);
    const catalog = path.join(dir, 'keyless.yaml');
    writeFileSync(
      catalog,
      'version: 1\ndataset_prefix: raw_keyless\ntables:\n  keyless_events:\n    write_disposition: merge\n    incremental: { cursor_column: updated_at }\n',
    );
    const run = () => runCli(['--env', 'local', '--duckdb-path', duckdbPath, '--catalog', catalog, '--source-url', proxy.url(db.name)]);
    const ok = await run();
    expect(ok.code, ok.stderr).toBe(0);
    await db.query('DROP TABLE keyless_events');
    const failed = await run();
    injected += 1;
    expectFailure(failed, 3, /Table public\.keyless_events does not exist in the source database/, unchanged);
    expect(failed.stderr).not.toMatch(/no primary key/);
  });

  it('a table named with --tables (outside the catalog) dropped: exit 2 listing the source and catalog tables, nothing changed', async () => {
    await db.query('CREATE TABLE side_notes (id integer PRIMARY KEY, note text)');
    await db.query(`INSERT INTO side_notes VALUES (1, 'a'), (2, 'b')`);
    const ok = await ingest('--tables', ...DATAVISION_TABLES, 'side_notes');
    expect(ok.code, ok.stderr).toBe(0);
    await db.query('DROP TABLE side_notes');
    await fault(() => ingest('--tables', ...DATAVISION_TABLES, 'side_notes'), 2, [/Unknown table "side_notes": not in the catalog and not found in the source/, /Tables in the source database .* visible to user/, /Catalog tables/]);
    // the last load of the dropped table is kept as it was
    expect(Number((await duckQuery(duckdbPath, `SELECT count(*) AS n FROM ${DATASET}.side_notes`))[0]!.n)).toBe(2);
  });

  it('merge table, column changed text → integer: exit 4 naming the column and --full-refresh; that run recovers', async () => {
    const failed = await fault(
      async () => {
        await db.query(`ALTER TABLE contents ALTER COLUMN description TYPE integer USING length(description)`);
        return ingest();
      },
      4,
      [/contents: column description changes from VARCHAR to INTEGER/, /--full-refresh contents/, /Nothing was written/],
      ['--full-refresh', 'contents'],
    );
    expect(failed.stdout).not.toMatch(/loading/);
    expect((await duckColumnTypes(duckdbPath, DATASET, 'contents')).description).toBe('INTEGER');
  });

  it('merge table, numeric narrowed to integer: exit 4 with --full-refresh; that run recovers', async () => {
    await fault(
      async () => {
        await db.query(`ALTER TABLE content_attributes ALTER COLUMN decimal_value TYPE integer USING round(decimal_value)::integer`);
        return ingest();
      },
      4,
      [/content_attributes: column decimal_value changes from DECIMAL\(38,\d+\) to INTEGER/, /--full-refresh content_attributes/],
      ['--full-refresh', 'content_attributes'],
    );
  });

  it('merge table, integer → text (widening): altered in place, reported, equal to the source', async () => {
    await changeSource();
    await db.query(`ALTER TABLE content_attributes ALTER COLUMN decimal_value TYPE text USING decimal_value::text || ' units'`);
    await db.query(`UPDATE content_attributes SET updated_at = now() WHERE attribute_id % 3 = 0`);
    const r = await ingest();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/content_attributes: column decimal_value widens from INTEGER to VARCHAR/);
    expect((await duckColumnTypes(duckdbPath, DATASET, 'content_attributes')).decimal_value).toBe('VARCHAR');
    // rows not re-read keep the old value's text: a full refresh makes every row follow the source's USING expression
    const f = await ingest('--full-refresh', 'content_attributes');
    expect(f.code, f.stderr).toBe(0);
    await expectEqualsSource();
  });

  it('full table, integer → text and a column dropped: rebuilt, the dropped column kept NULL-filled until --full-refresh', async () => {
    await changeSource();
    await db.query(`ALTER TABLE subscriptions ALTER COLUMN max_contents_per_month TYPE text USING coalesce(max_contents_per_month::text, 'unlimited')`);
    await db.query(`ALTER TABLE accounts DROP COLUMN email`);
    const r = await ingest();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/accounts: column email \(VARCHAR\) no longer exists in the source; kept in the destination, NULL in new rows \(--full-refresh accounts removes it\)/);
    expect((await duckColumnTypes(duckdbPath, DATASET, 'subscriptions')).max_contents_per_month).toBe('VARCHAR');
    expect(Number((await duckQuery(duckdbPath, `SELECT count(email) AS n FROM ${DATASET}.accounts`))[0]!.n)).toBe(0);
    await expectEqualsSource();
    const f = await ingest('--full-refresh', 'accounts');
    expect(f.code, f.stderr).toBe(0);
    expect(Object.keys(await duckColumnTypes(duckdbPath, DATASET, 'accounts'))).not.toContain('email');
  });

  it('merge table, column renamed: the new name is added, the old one kept and reported with a rename hint, the table named once (regression: "contents: contents:"); --full-refresh makes it equal', async () => {
    await changeSource();
    await db.query(`ALTER TABLE contents RENAME COLUMN title TO headline`);
    const r = await ingest();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/warning: contents: column headline \(VARCHAR\) is new in the source; added/);
    expect(r.stdout).toMatch(/warning: contents: column title \(VARCHAR\) no longer exists in the source; kept in the destination/);
    expect(r.stdout).not.toContain('contents: contents:');
    expect(r.stdout).toContain('title dropped and headline added in the same change: if a column was renamed');
    const f = await ingest('--full-refresh', 'contents');
    expect(f.code, f.stderr).toBe(0);
    await expectEqualsSource();
    expect(Object.keys(await duckColumnTypes(duckdbPath, DATASET, 'contents'))).not.toContain('title');
  });
});
