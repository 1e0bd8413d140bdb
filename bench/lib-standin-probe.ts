/**
 * Timing of what the executing stand-ins do for a run, measured in the bench's own process (the stand-ins run there):
 * every Athena StartQueryExecution (the stand-in parses, checks and executes the statement on DuckDB before it
 * answers, so the call's duration is the statement's execution) by statement kind and target table, every Glue
 * operation (the staging table's CreateTable / DeleteTable apart), and the S3 requests the conditional layer saw
 * (the lock reads are the fences). The handlers are wrapped, not changed: the same arguments, the same answers.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Lakehouse } from '../test/helpers/lakehouse.js';

export interface Tally {
  count: number;
  /** Wall time of the calls (the stand-in answers once it has executed). */
  ms: number;
  /** This process's CPU during the calls (DuckDB's threads included; the /proc sampler's thread too, ≈ 15 % of a core). */
  cpuMs: number;
}

/** What the stand-ins did between two marks. */
export interface StandinWork {
  /** Athena statements by kind (MERGE, DELETE, SELECT, ALTER, …). */
  readonly statements: Record<string, Tally>;
  /** MERGE and DELETE by target table ("MERGE contents"). */
  readonly byTable: Record<string, Tally>;
  /** Glue operations, the staging table's own as "<op> (staging)". */
  readonly glue: Record<string, Tally>;
  /** S3 requests by kind: lock (fences, take, release), state, run record, batch/data upload, list, other. */
  readonly s3: Record<string, number>;
}

interface Event {
  readonly group: 'statements' | 'byTable' | 'glue';
  readonly key: string;
  readonly ms: number;
  readonly cpuMs: number;
}

const cpuSince = (c0: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
};

const STAGE = /__ingesta_stage$/;

/** The kind of an Athena statement and, for DML, its target table (unquoted, without the database). */
export function statementKind(sql: string): { kind: string; table?: string } {
  const verb = (/^\s*\(*\s*(\w+)/.exec(sql)?.[1] ?? '?').toUpperCase();
  const kind = verb === 'WITH' || verb === 'VALUES' ? 'SELECT' : verb;
  const target = /^\s*(?:MERGE\s+INTO|DELETE\s+FROM|INSERT\s+INTO|UPDATE)\s+(?:(?:"[^"]+"|`[^`]+`|\w+)\.)?("[^"]+"|`[^`]+`|\w+)/i.exec(sql)?.[1];
  return { kind, table: target?.replace(/^["`]|["`]$/g, '') };
}

function s3Kind(line: string): string {
  const [method = '', key = ''] = line.split(' ');
  if (key.endsWith('_ingesta/lock.json')) return `lock ${method}`;
  if (key.endsWith('_ingesta/state.json')) return `state ${method}`;
  if (key.includes('_ingesta/runs/')) return 'run record';
  if (key.includes('/batches/')) return `batch ${method}`;
  if (key.includes('/data/')) return `data ${method}`;
  if (key.includes('athena-results/')) return `query results ${method}`;
  if (key === '' || !key.includes('/')) return `list/bucket ${method}`;
  return `other ${method}`;
}

/** Wraps the stand-ins' handlers of `lake`; `mark()` then `since(mark)` give what happened in between. */
export function probeStandins(lake: Lakehouse): { mark(): number[]; since(mark: number[]): StandinWork } {
  const events: Event[] = [];
  const { athena, glue } = lake.aws;
  const athenaHandle = athena.handle.bind(athena);
  athena.handle = async (op, input) => {
    if (op !== 'StartQueryExecution') return athenaHandle(op, input);
    const [t0, c0] = [performance.now(), process.cpuUsage()];
    try {
      return await athenaHandle(op, input);
    } finally {
      const [ms, cpuMs] = [performance.now() - t0, cpuSince(c0)];
      const { kind, table } = statementKind(String(input.QueryString ?? ''));
      events.push({ group: 'statements', key: kind, ms, cpuMs });
      if (table && kind !== 'SELECT') events.push({ group: 'byTable', key: `${kind} ${table}`, ms, cpuMs });
    }
  };
  const glueHandle = glue.handle.bind(glue);
  glue.handle = async (op, input) => {
    const [t0, c0] = [performance.now(), process.cpuUsage()];
    try {
      return await glueHandle(op, input);
    } finally {
      const name = String(input.Name ?? input.TableInput?.Name ?? '');
      events.push({ group: 'glue', key: STAGE.test(name) ? `${op} (staging)` : op, ms: performance.now() - t0, cpuMs: cpuSince(c0) });
    }
  };
  return {
    mark: () => [events.length, lake.proxy.log.length],
    since([e = 0, s = 0]) {
      const out: StandinWork = { statements: {}, byTable: {}, glue: {}, s3: {} };
      for (const ev of events.slice(e)) {
        const t = (out[ev.group][ev.key] ??= { count: 0, ms: 0, cpuMs: 0 });
        t.count++;
        t.ms += ev.ms;
        t.cpuMs += ev.cpuMs;
      }
      for (const line of lake.proxy.log.slice(s)) out.s3[s3Kind(line)] = (out.s3[s3Kind(line)] ?? 0) + 1;
      return out;
    },
  };
}

/** Sum of the tallies whose key matches. */
export function tally(t: Record<string, Tally>, key: RegExp): Tally {
  return Object.entries(t)
    .filter(([k]) => key.test(k))
    .reduce((a, [, v]) => ({ count: a.count + v.count, ms: a.ms + v.ms, cpuMs: a.cpuMs + v.cpuMs }), { count: 0, ms: 0, cpuMs: 0 });
}

/** Every stored object under `dir` (s3rver keeps an object as `<key>._S3rver_object`). */
export function s3Objects(dir: string, prefix = ''): { key: string; path: string; bytes: number }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return s3Objects(p, `${prefix}${e.name}/`);
    return e.name.endsWith('._S3rver_object') ? [{ key: `${prefix}${e.name.replace(/\._S3rver_object$/, '')}`, path: p, bytes: statSync(p).size }] : [];
  });
}
