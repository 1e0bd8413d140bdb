import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { ColumnMapping } from '../normalize/column-mapping.js';
import { quoteLiteral } from '../sql/quote.js';
import { converterFor, type ValueConverter } from './cdc-values.js';
import { decodeMessage, lsnValue, type TupleValue } from '../source/postgres/cdc/pgoutput-decoder.js';

// the change file's layout: package/change-file.ts

/** A table whose changes the run reads, and where they go. */
export interface ChangeTarget {
  readonly schema: string;
  readonly name: string;
  readonly columns: readonly ColumnMapping[];
  /** Key columns (destination names); empty: no key, REPLICA IDENTITY FULL. */
  readonly primaryKey: readonly string[];
  readonly file: string;
}

export interface TableChanges {
  rows: number;
  bytes: number;
  truncated: boolean;
  /** Column indexes some change did not send (their value is resolved from an earlier change or the destination). */
  readonly unchanged: Set<number>;
}

/**
 * How far a table's row count in the run's snapshot is from its count at the stream's end point (`upto`): the net
 * rows (inserts − deletes) of the transactions the snapshot sees that commit at or after `upto`, minus those of the
 * transactions before `upto` that it does not see yet. `exact` false: such a transaction truncated the table.
 */
export interface CountCorrection {
  net: number;
  exact: boolean;
}

export interface ChangesRead {
  readonly tables: Map<string, TableChanges>;
  /** Per table, when the read was asked to count up to a later position (readChanges' `countUntil`). */
  readonly corrections: Map<string, CountCorrection>;
  readonly transactions: number;
  /** Transactions at or below the stored position: applied by an earlier run already, skipped. */
  readonly skipped: number;
  readonly changes: number;
  readonly bytesDecoded: number;
}

interface Relation {
  readonly target: ChangeTarget;
  readonly stats: TableChanges;
  readonly out: WriteStream;
  /** relation column index → target column index (−1: a column the run does not load). */
  readonly toTarget: readonly number[];
  readonly keyIndexes: readonly number[];
}

const csvField = (v: string | null) => (v === null ? '' : `"${v.replace(/"/g, '""')}"`);

/**
 * Reads the slot's changes up to `upto` (pg_logical_slot_peek_binary_changes: nothing is consumed; the caller
 * advances the slot after its destination committed) and writes each target table's change file. Transactions that
 * commit before `from` (the position the destination already holds) are skipped, so a replay after a crash between
 * the destination's commit and the slot's confirmation applies nothing twice.
 */
export async function readChanges(
  client: pg.Client,
  slot: string,
  publication: string,
  from: string,
  upto: string,
  targets: readonly ChangeTarget[],
  countUntil?: string,
): Promise<ChangesRead> {
  const byName = new Map(targets.map((t) => [`${t.schema}.${t.name}`, t]));
  const outputs = new Map<string, { out: WriteStream; stats: TableChanges }>();
  for (const t of targets) outputs.set(t.name, { out: createWriteStream(t.file, { highWaterMark: 1 << 20 }), stats: { rows: 0, bytes: 0, truncated: false, unchanged: new Set() } });
  const converters = new Map(targets.map((t) => [t.name, t.columns.map(converterFor)]));
  const relations = new Map<number, Relation | null>();
  const fromValue = lsnValue(from);
  const uptoValue = lsnValue(upto);
  const corrections = new Map<string, CountCorrection>(countUntil ? targets.map((t) => [t.name, { net: 0, exact: true }]) : []);
  // the transaction being decoded, when it only counts: +1 (the snapshot sees it, it commits at or after upto), −1
  // (before upto, the snapshot does not see it yet)
  let counting: 1 | -1 | undefined;
  let seq = 0;
  let transactions = 0;
  let skipped = 0;
  let changes = 0;
  let bytesDecoded = 0;
  let skipping = false;

  const write = async (rel: Relation, op: string, values: readonly (string | null | undefined)[], moved?: number): Promise<number> => {
    const unchanged: number[] = [];
    const fields = values.map((v, i) => {
      if (v === undefined) {
        unchanged.push(i);
        rel.stats.unchanged.add(i);
        return '';
      }
      return csvField(v);
    });
    seq += 1;
    const line = `${seq},${op},${unchanged.length > 0 ? `|${unchanged.join('|')}|` : ''},${moved ?? ''},${fields.join(',')}\n`;
    rel.stats.rows += 1;
    rel.stats.bytes += Buffer.byteLength(line);
    if (!rel.out.write(line)) await once(rel.out, 'drain');
    return seq;
  };
  /** A tuple as the target's columns: text (converted), null, or undefined = not sent (unchanged / not in the relation). */
  const asRow = (rel: Relation, tuple: readonly TupleValue[], fallback?: readonly TupleValue[]): (string | null | undefined)[] => {
    const row: (string | null | undefined)[] = rel.target.columns.map(() => undefined);
    const convert = converters.get(rel.target.name)! as ValueConverter[];
    tuple.forEach((v, i) => {
      const j = rel.toTarget[i] ?? -1;
      if (j < 0) return;
      const value = v.kind === 'unchanged' && fallback?.[i] ? fallback[i]! : v;
      row[j] = value.kind === 'text' ? convert[j]!(value.text) : value.kind === 'null' ? null : undefined;
    });
    return row;
  };
  const count = (m: ReturnType<typeof decodeMessage>, sign: 1 | -1) => {
    if (m.tag === 'truncate') {
      for (const oid of m.relationOids) {
        const rel = relations.get(oid);
        if (rel) corrections.get(rel.target.name)!.exact = false;
      }
      return;
    }
    if (m.tag !== 'insert' && m.tag !== 'delete') return;
    const rel = relations.get(m.relationOid);
    if (rel) corrections.get(rel.target.name)!.net += m.tag === 'insert' ? sign : -sign;
  };
  const keyOf = (rel: Relation, row: readonly (string | null | undefined)[]) => JSON.stringify(rel.keyIndexes.map((i) => row[i]));
  const onlyKey = (rel: Relation, row: (string | null | undefined)[]) => row.map((v, i) => (rel.keyIndexes.includes(i) ? v : null));

  const sql = `COPY (${peekSql(slot, publication, countUntil ?? upto, countUntil !== undefined)}) TO STDOUT`;
  const stream = client.query(copyTo(sql));
  let pending = '';
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      pending += chunk.toString('latin1');
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const text of lines) {
        const [line, visible] = text.split(' ');
        const buf = Buffer.from(line!, 'hex');
        bytesDecoded += buf.length;
        const m = decodeMessage(buf);
        if (m.tag === 'begin') {
          const final = lsnValue(m.finalLsn);
          skipping = final < fromValue;
          counting = undefined;
          if (final >= uptoValue) {
            // past the run's end point (read only to count): the next run applies it
            skipping = true;
            if (visible === 'true') counting = 1;
          } else if (skipping) skipped += 1;
          else {
            transactions += 1;
            if (visible === 'false') counting = -1;
          }
          continue;
        }
        if (m.tag === 'relation') {
          const target = byName.get(`${m.schema}.${m.name}`);
          if (!target) {
            relations.set(m.relationOid, null);
            continue;
          }
          const output = outputs.get(target.name)!;
          const toTarget = m.columns.map((c) => target.columns.findIndex((t) => t.sourceName === c.name));
          const keyIndexes = target.primaryKey.map((k) => target.columns.findIndex((c) => c.name === k));
          relations.set(m.relationOid, { target, stats: output.stats, out: output.out, toTarget, keyIndexes });
          continue;
        }
        if (m.tag === 'commit' || m.tag === 'type' || m.tag === 'other') continue;
        if (counting !== undefined) count(m, counting);
        if (skipping) continue;
        if (m.tag === 'truncate') {
          for (const oid of m.relationOids) {
            const rel = relations.get(oid);
            if (!rel) continue;
            rel.stats.truncated = true;
            await write(rel, 'T', rel.target.columns.map(() => null));
            changes += 1;
          }
          continue;
        }
        const rel = relations.get(m.relationOid);
        if (!rel) continue;
        changes += 1;
        if (m.tag === 'insert') await write(rel, 'I', asRow(rel, m.row));
        else if (m.tag === 'delete') {
          const old = asRow(rel, m.old);
          await write(rel, 'D', rel.keyIndexes.length > 0 ? onlyKey(rel, old) : old);
        } else {
          // an unchanged TOASTed value of a REPLICA IDENTITY FULL update is in the old row
          const row = asRow(rel, m.row, m.oldKind === 'full' ? m.old : undefined);
          const old = m.old ? asRow(rel, m.old) : undefined;
          if (rel.keyIndexes.length === 0) {
            await write(rel, 'D', old ?? row);
            await write(rel, 'I', row);
          } else {
            const moved = old && keyOf(rel, old) !== keyOf(rel, row) ? await write(rel, 'D', onlyKey(rel, old)) : undefined;
            await write(rel, 'U', row, moved);
          }
        }
      }
    }
  } catch (error) {
    await client.end().catch(() => undefined);
    for (const { out } of outputs.values()) out.destroy();
    throw error;
  }
  await Promise.all([...outputs.values()].map(({ out }) => new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())))));
  return { tables: new Map([...outputs].map(([name, { stats }]) => [name, stats])), corrections, transactions, skipped, changes, bytesDecoded };
}

/**
 * The query the run COPYs the slot's changes with, up to `upto` (nothing consumed); `visibility`: each Begin message
 * followed by whether the current snapshot sees that transaction.
 */
export function peekSql(slot: string, publication: string, upto: string, visibility = false): string {
  const data = visibility ? `encode(data, 'hex') || CASE WHEN get_byte(data, 0) = 66 THEN ' ' || ${visibleSql('xid')}::text ELSE '' END` : `encode(data, 'hex')`;
  return (
    `SELECT ${data} FROM pg_logical_slot_peek_binary_changes(${quoteLiteral(slot)}, ${quoteLiteral(upto)}::pg_lsn, NULL, ` +
    `'proto_version', '1', 'publication_names', ${quoteLiteral(publication)})`
  );
}

/**
 * SQL: whether the transaction `xid` (a 32-bit xid, as the slot functions return it) is visible in the snapshot of
 * the current transaction; its epoch is taken from the snapshot's xmax (an xid above xmax's low half is of the epoch before).
 */
function visibleSql(xid: string): string {
  const xmax = `pg_snapshot_xmax(pg_current_snapshot())::text::bigint`;
  const full = `(((${xmax} >> 32) << 32) | ${xid}::text::bigint)`;
  return `pg_visible_in_snapshot((CASE WHEN ${full} > ${xmax} THEN ${full} - 4294967296 ELSE ${full} END)::text::xid8, pg_current_snapshot())`;
}
