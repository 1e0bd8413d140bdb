/**
 * A decoder of PostgreSQL's `pgoutput` logical replication messages (protocol version 1, text-format values), as
 * returned by pg_logical_slot_peek_binary_changes: Begin, Commit, Relation, Insert, Update, Delete, Truncate, Type
 * (Origin and Message are recognised and ignored). LSNs stay PostgreSQL text (`X/Y`), never a JS Number.
 *
 * A tuple value is `{ kind: 'null' }` ('n'), `{ kind: 'unchanged' }` ('u': an unchanged TOASTed value an update did
 * not send; the destination keeps what it has) or `{ kind: 'text', text }` ('t': the type's output text).
 */
export type TupleValue = { readonly kind: 'null' } | { readonly kind: 'unchanged' } | { readonly kind: 'text'; readonly text: string };

export interface RelationColumn {
  /** Part of the replica identity (the key, or every column with REPLICA IDENTITY FULL). */
  readonly key: boolean;
  readonly name: string;
  readonly typeOid: number;
  readonly typeModifier: number;
}

export type PgOutputMessage =
  | { readonly tag: 'begin'; readonly finalLsn: string; readonly commitTime: bigint; readonly xid: number }
  | { readonly tag: 'commit'; readonly commitLsn: string; readonly endLsn: string; readonly commitTime: bigint }
  | {
      readonly tag: 'relation';
      readonly relationOid: number;
      readonly schema: string;
      readonly name: string;
      /** d default (primary key), n nothing, f full, i index. */
      readonly replicaIdentity: string;
      readonly columns: readonly RelationColumn[];
    }
  | { readonly tag: 'type'; readonly typeOid: number; readonly schema: string; readonly name: string }
  | { readonly tag: 'insert'; readonly relationOid: number; readonly row: readonly TupleValue[] }
  | {
      readonly tag: 'update';
      readonly relationOid: number;
      /** The old key ('K', when the key changed) or the whole old row ('O', REPLICA IDENTITY FULL); else undefined. */
      readonly old: readonly TupleValue[] | undefined;
      readonly oldKind: 'key' | 'full' | undefined;
      readonly row: readonly TupleValue[];
    }
  | { readonly tag: 'delete'; readonly relationOid: number; readonly oldKind: 'key' | 'full'; readonly old: readonly TupleValue[] }
  | { readonly tag: 'truncate'; readonly cascade: boolean; readonly restartIdentity: boolean; readonly relationOids: readonly number[] }
  | { readonly tag: 'other'; readonly byte: number };

/** An LSN (two 32-bit halves) as PostgreSQL prints it. */
export function lsnText(high: number, low: number): string {
  return `${high.toString(16).toUpperCase()}/${low.toString(16).toUpperCase()}`;
}

/** An LSN as a bigint, for comparisons ('16/B374D848' → 0x16B374D848n). */
export function lsnValue(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new Error(`not an LSN: ${lsn}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

class Reader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}
  byte(): number {
    return this.buf.readUInt8(this.offset++);
  }
  int16(): number {
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  int32(): number {
    const v = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  uint32(): number {
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  int64(): bigint {
    const v = this.buf.readBigInt64BE(this.offset);
    this.offset += 8;
    return v;
  }
  lsn(): string {
    const high = this.uint32();
    return lsnText(high, this.uint32());
  }
  /** A NUL-terminated string (UTF-8: the database encoding of a UTF8 database). */
  cstring(): string {
    const end = this.buf.indexOf(0, this.offset);
    const s = this.buf.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return s;
  }
  bytes(n: number): string {
    const s = this.buf.toString('utf8', this.offset, this.offset + n);
    this.offset += n;
    return s;
  }
  tuple(): TupleValue[] {
    const n = this.int16();
    const values: TupleValue[] = [];
    for (let i = 0; i < n; i += 1) {
      const kind = String.fromCharCode(this.byte());
      if (kind === 'n') values.push({ kind: 'null' });
      else if (kind === 'u') values.push({ kind: 'unchanged' });
      else if (kind === 't') values.push({ kind: 'text', text: this.bytes(this.int32()) });
      else throw new Error(`pgoutput: tuple value kind '${kind}' is not supported (binary values were not asked for)`);
    }
    return values;
  }
}

/** Decodes one pgoutput message. */
export function decodeMessage(buf: Buffer): PgOutputMessage {
  const r = new Reader(buf);
  const tag = String.fromCharCode(r.byte());
  switch (tag) {
    case 'B':
      return { tag: 'begin', finalLsn: r.lsn(), commitTime: r.int64(), xid: r.uint32() };
    case 'C': {
      r.byte(); // flags (unused)
      return { tag: 'commit', commitLsn: r.lsn(), endLsn: r.lsn(), commitTime: r.int64() };
    }
    case 'R': {
      const relationOid = r.uint32();
      const schema = r.cstring();
      const name = r.cstring();
      const replicaIdentity = String.fromCharCode(r.byte());
      const n = r.int16();
      const columns: RelationColumn[] = [];
      for (let i = 0; i < n; i += 1) columns.push({ key: (r.byte() & 1) === 1, name: r.cstring(), typeOid: r.uint32(), typeModifier: r.int32() });
      return { tag: 'relation', relationOid, schema, name, replicaIdentity, columns };
    }
    case 'Y':
      return { tag: 'type', typeOid: r.uint32(), schema: r.cstring(), name: r.cstring() };
    case 'I': {
      const relationOid = r.uint32();
      r.byte(); // 'N'
      return { tag: 'insert', relationOid, row: r.tuple() };
    }
    case 'U': {
      const relationOid = r.uint32();
      let kind = String.fromCharCode(r.byte());
      let old: TupleValue[] | undefined;
      let oldKind: 'key' | 'full' | undefined;
      if (kind === 'K' || kind === 'O') {
        oldKind = kind === 'K' ? 'key' : 'full';
        old = r.tuple();
        kind = String.fromCharCode(r.byte());
      }
      return { tag: 'update', relationOid, old, oldKind, row: r.tuple() };
    }
    case 'D': {
      const relationOid = r.uint32();
      const kind = String.fromCharCode(r.byte());
      return { tag: 'delete', relationOid, oldKind: kind === 'K' ? 'key' : 'full', old: r.tuple() };
    }
    case 'T': {
      const n = r.uint32();
      const options = r.byte();
      const relationOids: number[] = [];
      for (let i = 0; i < n; i += 1) relationOids.push(r.uint32());
      return { tag: 'truncate', cascade: (options & 1) === 1, restartIdentity: (options & 2) === 2, relationOids };
    }
    default:
      // 'O' origin, 'M' logical decoding message: nothing to apply
      return { tag: 'other', byte: tag.charCodeAt(0) };
  }
}
