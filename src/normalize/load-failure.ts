import { DataError, messageOf } from '../errors.js';
import { AdjustmentNeeded, MEMORY_RETRY_FACTOR } from './adjustments.js';
import type { MappedTable } from './column-mapping.js';
import { describeDuckdbFailure } from './duckdb-errors.js';
import { refusedColumn } from './text-fallback.js';
import { UNFIT_NUMERIC_MARKER } from './wide-decimal.js';

/** DuckDB read fewer rows from a package file than were extracted into it. */
export class ShortRead extends Error {}

/** Every record of the package file must have become a row: DuckDB's CSV reader can drop an over-long last record. */
export function expectAllRowsRead(table: { readonly name: string; readonly rows: number }, n: number): void {
  if (n !== table.rows) throw new ShortRead(`Table ${table.name}: ${n} of the ${table.rows} rows extracted from the source were read back from the load package`);
}

/**
 * A failed read of a package table as the error to throw: the adjustment that may fix it (AdjustmentNeeded), or a
 * DataError that quotes no value. `longLines`: the table was already read with a line limit sized to its file. `into`
 * names what the load was doing in the destination's words ("into DuckDB", "as Parquet for Athena"): both destinations
 * type their data with DuckDB, and a message must not send an Athena user looking for a DuckDB file.
 */
export function classifyFailure(cause: unknown, table: MappedTable & { readonly bytes: number }, longLines: boolean, into: string): Error {
  if (cause instanceof DataError) return cause;
  // an unconstrained numeric read without measuring held a value its assumed scale does not: measured, then read again
  if (messageOf(cause).includes(UNFIT_NUMERIC_MARKER)) {
    return new AdjustmentNeeded(
      { kind: 'measure', table: table.name },
      new DataError(`Table ${table.name}: an unconstrained numeric column could not be typed after measuring it.`, { cause }),
    );
  }
  if (cause instanceof ShortRead && longLines) {
    return new DataError(`${cause.message}. Nothing was committed; the previous data and state are intact.`, { cause });
  }
  // a record longer than DuckDB's default line limit (a very large text value) fails to parse, or is dropped
  // silently (DuckDB 1.5): the whole package is loaded again with a limit and a buffer that fit the file
  const tooLong = /unterminated quote/i.test(messageOf(cause)) && table.bytes > 2 ** 21;
  if (!longLines && (cause instanceof ShortRead || /maximum line size/i.test(messageOf(cause)) || tooLong)) {
    return new AdjustmentNeeded(
      { kind: 'line-limit', table: table.name },
      new DataError(`Table ${table.name}: a record is too long to load: ${describeDuckdbFailure(messageOf(cause))}`, { cause }),
    );
  }
  // DuckDB ran out of memory reading the table (its CSV reader's buffers at a small limit, a wide row): the package is
  // loaded again with a larger limit for this table, once
  if (/out of memory/i.test(messageOf(cause))) {
    return new AdjustmentNeeded(
      { kind: 'memory', table: table.name },
      new DataError(
        `Loading table ${table.name} ${into} failed: ${describeDuckdbFailure(messageOf(cause))}, even with ${MEMORY_RETRY_FACTOR} times the memory limit. ` +
          'Raise INGESTA_DUCKDB_MEMORY_LIMIT. Nothing was committed; the previous data and state are intact.',
        { cause },
      ),
    );
  }
  // a value DuckDB refuses (a BC date, a timestamp past its range, NaN in numeric(p,s)): the column becomes text
  const column = refusedColumn(messageOf(cause), table);
  if (column) {
    return new AdjustmentNeeded(
      { kind: 'text', table: table.name, column: column.name },
      new DataError(`Table ${table.name}, column ${column.name}: a value of it cannot be typed exactly and the column could not fall back to text.`, { cause }),
    );
  }
  // DuckDB's message quotes the value (and the CSV record): only what failed and where is kept
  return new DataError(
    `Loading table ${table.name} ${into} failed: ${describeDuckdbFailure(messageOf(cause))}. ` +
      'Nothing was committed; the previous data and state are intact.',
    { cause },
  );
}
