import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CLI } from './cli.js';
import type { TestDatabase } from './postgres.js';

/**
 * Shared pieces of the randomized SIGKILL harnesses (chaos-kill*.test.ts): a seeded PRNG, random source changes that
 * keep every foreign key valid, a spawn of the built CLI that SIGKILLs it at a planned moment, kill moments drawn
 * from a measured run's profile, and the reliability figures written for the README.
 */

// ---------------------------------------------------------------------------------------------------------------
// seeded randomness

export interface Rng {
  /** [0, 1) */
  next(): number;
  /** integer in [lo, hi] */
  int(lo: number, hi: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** `count` distinct-ish integers in [lo, hi] (duplicates removed). */
  ints(count: number, lo: number, hi: number): number[];
}

/** mulberry32: tiny, fast, good enough to drive a test, and the same sequence for the same seed everywhere. */
export function makeRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => (hi < lo ? lo : lo + Math.floor(next() * (hi - lo + 1)));
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)]!,
    ints: (count, lo, hi) => [...new Set(Array.from({ length: count }, () => int(lo, hi)))],
  };
}

/** INGESTA_CHAOS_SEED (to replay a failure), else a random one. Always printed by the tests. */
export function chaosSeed(): number {
  const given = process.env.INGESTA_CHAOS_SEED;
  if (given !== undefined && given.trim() !== '') {
    const n = Number(given);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`INGESTA_CHAOS_SEED must be an integer in [0, 2^32): ${given}`);
    return n;
  }
  return Math.floor(Math.random() * 0xffffffff);
}

/**
 * INGESTA_CHAOS_RUNS: number of killed-at-random runs per harness. `npm run test:reliability` sets 20; without it (the
 * harnesses inside `npm test`, which must stay well under 10 minutes on 2 cores) 6.
 */
export function chaosRuns(fallback = 6): number {
  const given = Number(process.env.INGESTA_CHAOS_RUNS ?? fallback);
  return Number.isInteger(given) && given > 0 ? given : fallback;
}

// ---------------------------------------------------------------------------------------------------------------
// a run of the CLI, killed at a planned moment

export interface KilledRun {
  readonly outcome: 'killed' | 'completed';
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** From spawn to exit. */
  readonly elapsedMs: number;
  /** When SIGKILL was sent, in ms after the spawn (undefined: the run exited first). */
  readonly killedAtMs: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  /** The JSON events the run wrote before it exited or died (stdout is a pipe: written synchronously). */
  readonly events: RunEvent[];
  /** Spawn time (Date.now()), to place the events' times on the run's own clock. */
  readonly spawnedAt: number;
}

export interface RunEvent {
  readonly time: string;
  readonly type: string;
  readonly [key: string]: unknown;
}

/**
 * When to kill: `offsetMs` after the anchor. `spawn`: after the process starts; `started`: after the run reports it
 * started (the lock is held; a leftover package is handled next); `snapshot`: after the run reports its
 * source snapshot (start-up, lock and recovery are over; extraction begins); `extracted`: after the run reports its
 * last table extracted (the load / commit follows). Anchoring on the run's own events keeps "mid-extraction" and
 * "around the commit" kills where they are aimed even when the machine is busy and start-up times vary.
 */
export interface KillPlan {
  readonly anchor: 'spawn' | 'started' | 'snapshot' | 'extracted';
  readonly offsetMs: number;
}

/**
 * Runs the built CLI (JSON logs) with a clean environment plus `env` and sends SIGKILL as the plan says, as a power cut
 * would: no handler runs. A run that exits first (or never reaches the anchor) is `completed`. INGESTA_CHAOS_CLI runs
 * another build instead of dist/cli/main.js (e.g. a deliberately broken one, to see the harness notice).
 */
export function runAndKill(args: string[], env: Record<string, string | undefined>, plan: KillPlan, cwd: string): Promise<KilledRun> {
  return new Promise((resolve, reject) => {
    const spawnedAt = Date.now();
    const child = spawn(process.execPath, [process.env.INGESTA_CHAOS_CLI || CLI, ...args], {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, INGESTA_LOG_FORMAT: 'json' } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let exited = false;
    let killedAtMs: number | undefined;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      timer ??= setTimeout(() => {
        if (exited) return;
        killedAtMs = Date.now() - spawnedAt;
        child.kill('SIGKILL');
      }, Math.max(0, plan.offsetMs));
    };
    if (plan.anchor === 'spawn') arm();
    let pending = '';
    let tables = Number.POSITIVE_INFINITY;
    let extracted = 0;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        if (timer || !line.startsWith('{')) continue;
        let event: RunEvent;
        try {
          event = JSON.parse(line) as RunEvent;
        } catch {
          continue;
        }
        if (event.type === 'run_started' && Array.isArray(event.tables)) tables = event.tables.length;
        if (event.type === 'run_started' && plan.anchor === 'started') arm();
        if (event.type === 'snapshot_taken' && plan.anchor === 'snapshot') arm();
        if (event.type === 'extract_finished' && (extracted += 1) >= tables && plan.anchor === 'extracted') arm();
      }
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', () => (exited = true));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        outcome: signal === 'SIGKILL' ? 'killed' : 'completed',
        code,
        signal,
        elapsedMs: Date.now() - spawnedAt,
        killedAtMs,
        stdout,
        stderr,
        events: parseEvents(stdout),
        spawnedAt,
      });
    });
  });
}

/** A run that is not killed. */
export function runToEnd(args: string[], env: Record<string, string | undefined>, cwd: string): Promise<KilledRun> {
  return runAndKill(args, env, { anchor: 'spawn', offsetMs: 60 * 60_000 }, cwd);
}

export function parseEvents(stdout: string): RunEvent[] {
  const out: RunEvent[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as RunEvent);
    } catch {
      // a line cut by the kill
    }
  }
  return out;
}

/** The tables a run announced it would load (run_started). */
export function tablesOf(run: KilledRun): string[] {
  const started = run.events.find((e) => e.type === 'run_started');
  return started && Array.isArray(started.tables) ? started.tables.map(String) : [];
}

/** The run id a run announced (run_started), if it got that far. */
export function runIdOf(run: KilledRun): string | null {
  const started = run.events.find((e) => e.type === 'run_started');
  return started ? String(started.runId) : null;
}

/** Leftover packages the run handled, as it reported them. */
export function recoveredBy(run: KilledRun): { runId: string; action: string; reason: string }[] {
  return run.events.filter((e) => e.type === 'package_recovered').map((e) => ({ runId: String(e.runId), action: String(e.action), reason: String(e.reason) }));
}

/**
 * Where the run was when it died, from the last events it wrote: `startup` (connect, lock), `recovery` (leftover
 * packages), `extract` (snapshot open, tables being read; a transactional destination loads finished tables
 * meanwhile), `load` (everything extracted: the load/commit), `committed` (after the commit: cleanup, schema export),
 * `finished`.
 */
export function phaseOf(run: KilledRun): string {
  const types = run.events.map((e) => e.type);
  if (types.includes('run_finished')) return 'finished';
  if (types.includes('table_loaded')) return 'committed';
  const started = run.events.find((e) => e.type === 'run_started');
  if (!started) return 'startup';
  if (!types.includes('snapshot_taken')) return 'recovery';
  const tables = Array.isArray(started.tables) ? started.tables.length : Number.POSITIVE_INFINITY;
  return types.filter((t) => t === 'extract_finished').length >= tables ? 'load' : 'extract';
}

// ---------------------------------------------------------------------------------------------------------------
// kill moments

/** Milestones of an uncut run, in ms after its spawn. */
export interface RunProfile {
  readonly durationMs: number;
  /** The source snapshot is open (start-up, lock and recovery are over). */
  readonly snapshotMs: number;
  /** The last table is extracted: the load / commit follows. */
  readonly extractedMs: number;
  /** The first table_loaded event: the commit is done. */
  readonly committedMs: number;
}

export function profileOf(run: KilledRun): RunProfile {
  const at = (type: string, last = false) => {
    const found = run.events.filter((e) => e.type === type);
    const e = last ? found[found.length - 1] : found[0];
    return e ? Date.parse(e.time) - run.spawnedAt : undefined;
  };
  const d = run.elapsedMs;
  const snapshotMs = Math.min(at('snapshot_taken') ?? d * 0.5, d);
  const extractedMs = Math.min(Math.max(at('extract_finished', true) ?? d * 0.8, snapshotMs), d);
  const committedMs = Math.min(Math.max(at('table_loaded') ?? d * 0.9, extractedMs), d);
  return { durationMs: d, snapshotMs, extractedMs, committedMs };
}

/** Profiles of the runs seen so far, per kind of run; a kind's profile is the median of its runs. */
export class ProfileBook {
  private readonly runs = new Map<string, RunProfile[]>();

  add(kind: string, run: KilledRun): void {
    if (run.outcome !== 'completed' || run.code !== 0) return;
    this.runs.set(kind, [...(this.runs.get(kind) ?? []), profileOf(run)]);
  }

  /** The kind's median profile, else the fallback kind's. */
  get(kind: string, fallback: string): RunProfile {
    const list = this.runs.get(kind) ?? this.runs.get(fallback);
    if (!list || list.length === 0) throw new Error(`no measured run of kind ${kind} or ${fallback}`);
    const median = (f: (p: RunProfile) => number) => {
      const v = list.map(f).sort((a, b) => a - b);
      return v[Math.floor(v.length / 2)]!;
    };
    return {
      durationMs: median((p) => p.durationMs),
      snapshotMs: median((p) => p.snapshotMs),
      extractedMs: median((p) => p.extractedMs),
      committedMs: median((p) => p.committedMs),
    };
  }
}

export type DelayKind = 'early' | 'uniform' | 'recovery' | 'extract' | 'commit' | 'end' | 'late';

/**
 * A kill from a measured run's profile: uniform over the whole run, mixed with kills aimed at its parts — very early
 * (start-up, lock, recovery of a leftover package), during extraction, around the commit (from the end of extraction
 * to a little after the commit), in the last 10 % (commit, cleanup, schema export), and well past the end (the run
 * completes; the kill hits nothing). When a killed run left a complete package, some kills are aimed at its recovery
 * by the next run (it is loaded first thing after the lock: a crash during a recovery).
 */
export function pickKill(rng: Rng, profile: RunProfile, leftoverExtracted = false): { plan: KillPlan; kind: DelayKind } {
  const { durationMs: d, snapshotMs: s, extractedMs: x, committedMs: c } = profile;
  // always three draws, whatever is chosen: the stream stays aligned for a replay
  const [aim, r, u] = [rng.next(), rng.next(), rng.next()];
  const upTo = (hi: number) => Math.round(u * Math.max(0, hi));
  if (leftoverExtracted && aim < 0.4) return { plan: { anchor: 'started', offsetMs: upTo(c - x + 0.1 * d) }, kind: 'recovery' };
  if (r < 0.1) return { plan: { anchor: 'spawn', offsetMs: upTo(s) }, kind: 'early' };
  if (r < 0.3) return { plan: { anchor: 'spawn', offsetMs: upTo(d) }, kind: 'uniform' };
  if (r < 0.5) return { plan: { anchor: 'snapshot', offsetMs: upTo(x - s) }, kind: 'extract' };
  if (r < 0.72) return { plan: { anchor: 'extracted', offsetMs: upTo(c - x + 0.05 * d) }, kind: 'commit' };
  if (r < 0.85) return { plan: { anchor: 'spawn', offsetMs: Math.round(0.9 * d + upTo(0.1 * d)) }, kind: 'end' };
  return { plan: { anchor: 'spawn', offsetMs: Math.round(1.5 * d + upTo(d)) }, kind: 'late' };
}

/** true when a package under `root` (the dataset's package folder) is fully extracted: the next run loads it. */
export function hasExtractedPackage(root: string): boolean {
  if (!existsSync(root)) return false;
  return readdirSync(root).some((runId) => {
    try {
      return (JSON.parse(readFileSync(path.join(root, runId, 'manifest.json'), 'utf8')) as { state?: string }).state === 'extracted';
    } catch {
      return false;
    }
  });
}

export interface RunChoice {
  /** Flags after --env/--duckdb-path: none, --full-refresh (all or some tables), --tables of the incremental two. */
  readonly extra: string[];
  /** --lag: mostly 0 (a cursor off by one row would lose data at once), sometimes the default 15 minutes. */
  readonly lag: string;
  /** Which measured profile its kill is drawn from. */
  readonly kind: 'full' | 'plain' | 'partial';
}

/** What the next run is asked to do. Until something is committed, every run is a first (full) load. */
export function pickRunArgs(rng: Rng, committedOnce: boolean): RunChoice {
  const [r, l] = [rng.next(), rng.next()];
  const extra =
    r < 0.5 ? []
    : r < 0.7 ? ['--full-refresh']
    : r < 0.85 ? ['--tables', 'contents', 'content_attributes']
    : r < 0.93 ? ['--full-refresh', 'contents', 'accounts']
    : ['--tables', 'contents', 'content_attributes', '--full-refresh'];
  const kind = extra.length === 1 || !committedOnce ? 'full' : extra.length === 0 ? 'plain' : 'partial';
  return { extra, lag: l < 0.75 ? '0' : '15m', kind };
}

export function describePlan(plan: KillPlan): string {
  return plan.anchor === 'spawn' ? `${plan.offsetMs}ms` : `${plan.anchor}+${plan.offsetMs}ms`;
}

// ---------------------------------------------------------------------------------------------------------------
// random source changes (DataVision), foreign keys kept valid

export interface ChangeCounts {
  inserted: number;
  updated: number;
  deleted: number;
}

const TEXTS = ['plain', 'O\'Brien, "quoted"', 'multi\nline\ttab', 'back\\slash', 'Café 🎬', '', 'trailing space ', 'a,b;c|d'];

/** Max of an integer key (0 for an empty table). */
async function maxOf(db: TestDatabase, table: string, key: string): Promise<number> {
  const [row] = await db.query(`SELECT coalesce(max(${key}), 0)::int AS m FROM ${table}`);
  return Number(row!.m);
}

/**
 * One round of random changes in one transaction: inserts and updates on every table, deletes on the full (replace)
 * tables only (children first), and on the incremental tables `contents` / `content_attributes` inserts and updates
 * stamped `updated_at = now()`; with `incrementalDeletes` also hard deletes there (attributes, and contents with their
 * attributes), which only a reconciling destination follows (DuckDB reconciles when the row counts disagree).
 * `baseAccounts`: accounts 1..N of the seed, which own contents and so are never deleted (safe FK targets).
 */
export async function applyRandomChanges(
  db: TestDatabase,
  rng: Rng,
  round: number,
  baseAccounts: number,
  { incrementalDeletes = false }: { incrementalDeletes?: boolean } = {},
): Promise<ChangeCounts> {
  const counts: ChangeCounts = { inserted: 0, updated: 0, deleted: 0 };
  if (rng.chance(0.1)) return counts; // now and then nothing changes: empty incremental batches
  const scale = rng.pick([1, 3, 10, 30]);
  const n = () => rng.int(0, scale);
  const text = () => `${rng.pick(TEXTS)} r${round}`;
  const money = (lo: number, hi: number) => (rng.int(lo, hi) / 100).toFixed(2);
  const exec = async (kind: keyof ChangeCounts, sql: string, params: unknown[] = []) => {
    const r = await db.client.query(sql, params);
    counts[kind] += r.rowCount ?? 0;
  };
  await db.client.query('BEGIN');
  try {
    const maxAccount = await maxOf(db, 'accounts', 'account_id');
    const maxSub = await maxOf(db, 'subscriptions', 'subscription_id');
    const maxAccSub = await maxOf(db, 'accounts_subscription', 'account_subscription_id');
    const maxContent = await maxOf(db, 'contents', 'content_id');
    const maxAttr = await maxOf(db, 'content_attributes', 'attribute_id');
    const maxFeature = await maxOf(db, 'premium_features', 'feature_id');
    const maxApf = await maxOf(db, 'account_premium_features', 'account_feature_id');
    const maxPay = await maxOf(db, 'subscription_payments', 'payment_id');
    const ids = (hi: number) => rng.ints(n(), 1, Math.max(1, hi));
    const paymentsOf = (where: string) =>
      `DELETE FROM subscription_payments WHERE account_subscription_id IN (SELECT account_subscription_id FROM accounts_subscription WHERE ${where})`;

    // --- deletes, full tables only, children before parents
    await exec('deleted', 'DELETE FROM subscription_payments WHERE payment_id = ANY($1::int[])', [ids(maxPay)]);
    await exec('deleted', 'DELETE FROM account_premium_features WHERE account_feature_id = ANY($1::int[])', [ids(maxApf)]);
    const accSubs = ids(maxAccSub);
    await exec('deleted', 'DELETE FROM subscription_payments WHERE account_subscription_id = ANY($1::int[])', [accSubs]);
    await exec('deleted', 'DELETE FROM accounts_subscription WHERE account_subscription_id = ANY($1::int[])', [accSubs]);
    if (rng.chance(0.3) && maxFeature > 12) {
      // a feature added by an earlier round (the 12 seeded ones stay)
      const f = rng.int(13, maxFeature);
      await exec('deleted', 'DELETE FROM account_premium_features WHERE feature_id = $1', [f]);
      await exec('deleted', 'DELETE FROM premium_features WHERE feature_id = $1', [f]);
    }
    if (rng.chance(0.3) && maxSub > 6) {
      // a subscription added by an earlier round (the 6 seeded ones stay)
      const sub = rng.int(7, maxSub);
      await exec('deleted', paymentsOf('subscription_id = $1'), [sub]);
      await exec('deleted', 'DELETE FROM accounts_subscription WHERE subscription_id = $1', [sub]);
      await exec('deleted', 'DELETE FROM subscriptions WHERE subscription_id = $1', [sub]);
    }
    if (maxAccount > baseAccounts) {
      // accounts added by earlier rounds own no contents: they can go, with their full-table children
      const doomed = rng.ints(n(), baseAccounts + 1, maxAccount);
      const free = (
        await db.query(`SELECT account_id FROM accounts a WHERE account_id = ANY($1::int[]) AND NOT EXISTS (SELECT 1 FROM contents c WHERE c.account_id = a.account_id)`, [doomed])
      ).map((r) => Number(r.account_id));
      await exec('deleted', 'DELETE FROM account_premium_features WHERE account_id = ANY($1::int[])', [free]);
      await exec('deleted', paymentsOf('account_id = ANY($1::int[])'), [free]);
      await exec('deleted', 'DELETE FROM accounts_subscription WHERE account_id = ANY($1::int[])', [free]);
      await exec('deleted', 'DELETE FROM accounts WHERE account_id = ANY($1::int[])', [free]);
    }

    // --- inserts, new keys above the current maximum, parents first; references point at rows that exist
    await exec(
      'inserted',
      `INSERT INTO accounts
       SELECT i, $2 || ' #' || i, CASE WHEN i % 4 = 0 THEN NULL ELSE 'chaos' || i || '@example.com' END, now(), now()
       FROM generate_series($1::int + 1, $1::int + $3::int) AS i`,
      [maxAccount, text(), n()],
    );
    if (rng.chance(0.3)) await exec('inserted', 'INSERT INTO subscriptions VALUES ($1, $2, $3, now(), now())', [maxSub + 1, text(), rng.chance(0.3) ? null : rng.int(0, 500)]);
    if (rng.chance(0.3)) {
      await exec('inserted', 'INSERT INTO premium_features VALUES ($1, $2, $3, $4::numeric(10,2), now(), now())', [
        maxFeature + 1, text(), rng.chance(0.3) ? null : text(), money(0, 99_999),
      ]);
    }
    const subMax = await maxOf(db, 'subscriptions', 'subscription_id');
    const featureMax = await maxOf(db, 'premium_features', 'feature_id');
    const accountMax = await maxOf(db, 'accounts', 'account_id');
    // the existing row with the largest key ≤ a random one (account 1, subscription 1, feature 1 always exist)
    const existing = (table: string, key: string, param: string) => `(SELECT max(${key}) FROM ${table} WHERE ${key} <= ${param}::int)`;
    for (let k = n(); k > 0; k -= 1) {
      await exec(
        'inserted',
        `INSERT INTO accounts_subscription VALUES ($1, ${existing('accounts', 'account_id', '$3')}, ${existing('subscriptions', 'subscription_id', '$2')},
                                                  current_date - $4::int, NULL, now(), now())`,
        [maxAccSub + k, rng.int(1, subMax), rng.int(1, accountMax), rng.int(0, 700)],
      );
    }
    for (let k = n(); k > 0; k -= 1) {
      await exec(
        'inserted',
        `INSERT INTO account_premium_features VALUES ($1, ${existing('accounts', 'account_id', '$3')}, ${existing('premium_features', 'feature_id', '$2')},
                                                      now() - make_interval(days => $4::int), $5::numeric(10,2))`,
        [maxApf + k, rng.int(1, featureMax), rng.int(1, accountMax), rng.int(0, 300), money(-500, 99_999)],
      );
    }
    const accSubMax = await maxOf(db, 'accounts_subscription', 'account_subscription_id');
    for (let k = n(); k > 0; k -= 1) {
      await exec(
        'inserted',
        `INSERT INTO subscription_payments VALUES ($1,
           coalesce(${existing('accounts_subscription', 'account_subscription_id', '$2')}, (SELECT min(account_subscription_id) FROM accounts_subscription)),
           now() - make_interval(secs => $3::int), $4::numeric(10,2), $5, $6)`,
        [
          maxPay + k, rng.int(1, accSubMax), rng.int(0, 1_000_000), money(-2000, 20_000),
          rng.chance(0.2) ? null : rng.pick(['PayPal', 'Tarjeta de Crédito', 'Transferencia']), rng.pick(['Mensual', 'Anual', 'Trimestral']),
        ],
      );
    }
    // incremental tables: inserts stamped now(); contents belong to seeded accounts (never deleted)
    const newContents = n();
    for (let k = 1; k <= newContents; k += 1) {
      await exec('inserted', 'INSERT INTO contents VALUES ($1, $2, $3, $4, $5, now(), now())', [
        maxContent + k, rng.int(1, baseAccounts), text(), rng.chance(0.2) ? null : text(), rng.pick(['video', 'article', 'podcast', 'course']),
      ]);
    }
    const contentMax = maxContent + newContents;
    for (let k = n(); k > 0; k -= 1) {
      const decimal = rng.chance(0.5);
      // the content at or after a random id (earlier rounds may have deleted the one drawn)
      const existing = '(SELECT coalesce((SELECT content_id FROM contents WHERE content_id >= $2 ORDER BY content_id LIMIT 1), (SELECT max(content_id) FROM contents)))';
      await exec('inserted', `INSERT INTO content_attributes VALUES ($1, ${existing}, $3, $4, $5::numeric, $6::date, now(), now())`, [
        maxAttr + k, rng.int(1, contentMax), decimal ? 'Duración' : 'Categoría', decimal ? null : text(),
        decimal ? (rng.int(0, 10_000_000) / 1000).toString() : null, decimal ? `2020-01-${String(rng.int(1, 28)).padStart(2, '0')}` : null,
      ]);
    }

    // --- updates on every table; the incremental ones always stamp updated_at = now()
    await exec('updated', 'UPDATE accounts SET email = $2 || account_id, updated_at = now() WHERE account_id = ANY($1::int[])', [ids(accountMax), text()]);
    if (rng.chance(0.3)) {
      await exec('updated', 'UPDATE subscriptions SET max_contents_per_month = $2, updated_at = now() WHERE subscription_id = $1', [rng.int(1, subMax), rng.int(0, 999)]);
    }
    await exec('updated', 'UPDATE accounts_subscription SET end_date = current_date + $2::int, updated_at = now() WHERE account_subscription_id = ANY($1::int[])', [
      ids(accSubMax), rng.int(-30, 400),
    ]);
    if (rng.chance(0.3)) {
      await exec('updated', 'UPDATE premium_features SET base_price = $2::numeric(10,2), updated_at = now() WHERE feature_id = $1', [rng.int(1, featureMax), money(0, 99_999)]);
    }
    await exec('updated', 'UPDATE account_premium_features SET amount_paid = $2::numeric(10,2) WHERE account_feature_id = ANY($1::int[])', [ids(maxApf + 30), money(0, 99_999)]);
    await exec('updated', 'UPDATE subscription_payments SET amount = $2::numeric(10,2), payment_method = $3 WHERE payment_id = ANY($1::int[])', [
      ids(maxPay + 30), money(-2000, 20_000), rng.chance(0.2) ? null : text(),
    ]);
    await exec(
      'updated',
      `UPDATE contents SET title = $2 || ' ' || content_id, description = CASE WHEN $3::boolean THEN NULL ELSE description END, updated_at = now()
       WHERE content_id = ANY($1::int[])`,
      [ids(contentMax), text(), rng.chance(0.2)],
    );
    await exec(
      'updated',
      `UPDATE content_attributes SET decimal_value = CASE WHEN decimal_value IS NULL THEN NULL ELSE $2::numeric END,
                                     string_value = CASE WHEN string_value IS NULL THEN NULL ELSE $3 END, updated_at = now()
       WHERE attribute_id = ANY($1::int[])`,
      [ids(maxAttr + 30), (rng.int(0, 10_000_000) / 1000).toString(), text()],
    );
    if (incrementalDeletes && rng.chance(0.5)) {
      // hard deletes on the incremental tables: some attributes, and some contents with all their attributes
      await exec('deleted', 'DELETE FROM content_attributes WHERE attribute_id = ANY($1::int[])', [ids(maxAttr + 30)]);
      const doomed = ids(contentMax);
      await exec('deleted', 'DELETE FROM content_attributes WHERE content_id = ANY($1::int[])', [doomed]);
      await exec('deleted', 'DELETE FROM contents WHERE content_id = ANY($1::int[])', [doomed]);
    }
    await db.client.query('COMMIT');
  } catch (error) {
    await db.client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------------------------
// the record of a harness run

export interface RunRecord {
  readonly run: number;
  readonly args: string;
  /** The kill as planned (`snapshot+120ms`) and when it was sent, in ms after the spawn. */
  readonly plan: string;
  readonly killedAtMs: number | undefined;
  readonly kind: DelayKind | 'uncut';
  readonly outcome: 'killed' | 'completed';
  readonly code: number | null;
  readonly elapsedMs: number;
  readonly phase: string;
  readonly runId: string | null;
  readonly recovered: string;
  readonly changes: ChangeCounts;
}

export function recordOf(run: number, args: string[], plan: KillPlan | undefined, kind: RunRecord['kind'], r: KilledRun, changes: ChangeCounts): RunRecord {
  return {
    run, args: args.join(' ') || '(plain)', plan: plan ? describePlan(plan) : '-', killedAtMs: r.killedAtMs, kind,
    outcome: r.outcome, code: r.code, elapsedMs: r.elapsedMs, phase: phaseOf(r), runId: runIdOf(r),
    recovered: recoveredBy(r).map((x) => `${x.action}`).join(',') || '-', changes,
  };
}

/** The replay line and the table of runs, for failure messages and the log. */
export function describeRuns(seed: number, runs: readonly RunRecord[]): string {
  const lines = runs.map(
    (r) =>
      `  #${String(r.run).padStart(2)} ${r.outcome.padEnd(9)} exit=${String(r.code ?? 'SIGKILL').padEnd(7)} ` +
      `kill=${r.plan.padStart(16)} (${r.kind.padEnd(8)}) at=${String(r.killedAtMs ?? '-').padStart(5)}ms ` +
      `ran=${String(r.elapsedMs).padStart(5)}ms phase=${r.phase.padEnd(9)} recovered=${r.recovered.padEnd(10)} ` +
      `changes=+${r.changes.inserted}/~${r.changes.updated}/-${r.changes.deleted} args=${r.args}`,
  );
  const head = `chaos seed ${seed} — replay with INGESTA_CHAOS_SEED=${seed} (source changes, flags and kill plans replay exactly; where a kill lands varies with machine load)`;
  return [head, ...lines].join('\n');
}

/** Adds the seed and the run table to a failing assertion's message, so the failure can be replayed. */
export async function withReplayInfo<T>(describe: () => string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof Error) error.message = `${error.message}\n\n${describe()}`;
    throw error;
  }
}

/** Writes the figures to <tmpdir>/ingesta-reliability/<name>.json and returns the path. */
export function writeReliabilitySummary(name: string, summary: Record<string, unknown>): string {
  const dir = path.join(tmpdir(), 'ingesta-reliability');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
  return file;
}

/** Counts of `values`, as an object (phase → n, …). */
export function tally(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
