import { DataError } from '../errors.js';
import type { KeyDiffRequest } from './destination.js';

/**
 * How a key-diff request's keys file is laid out, the same for every destination: CSV columns named by position
 * (k0, k1, …, then c for the cursor unless it is a key column), so no source name reaches the SQL unquoted.
 */
export interface KeyDiffLayout {
  /** The key columns' destination names, in key order. */
  readonly keys: readonly string[];
  /** The cursor column's destination name. */
  readonly cursor: string;
  /** The CSV's columns: k0…kn, then c unless the cursor is a key column. */
  readonly csvColumns: readonly string[];
  /** The CSV column holding the cursor's text. */
  readonly cursorText: string;
  /** A key or cursor column's destination type; a column missing in the destination is a DataError. */
  typeOf(column: string): string;
}

export function keyDiffLayout(request: KeyDiffRequest, types: ReadonlyMap<string, string>): KeyDiffLayout {
  const keys = request.keyColumns.map((c) => c.name);
  const cursor = request.cursorColumn.name;
  const cursorIsKey = keys.includes(cursor);
  return {
    keys,
    cursor,
    csvColumns: [...keys.map((_, i) => `k${i}`), ...(cursorIsKey ? [] : ['c'])],
    cursorText: cursorIsKey ? `k${keys.indexOf(cursor)}` : 'c',
    typeOf(name) {
      const type = types.get(name);
      if (type === undefined) {
        throw new DataError(`Table ${request.table}: column ${name} is missing in the destination; reconcile needs the key and cursor columns. Run with --full-refresh ${request.table}.`);
      }
      return type;
    },
  };
}
