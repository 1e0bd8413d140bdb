import { OUT_OF_RANGE_MARKER } from './column-mapping.js';

/**
 * DuckDB's errors about a value quote the value (its CSV reader quotes the whole record as "Original Line"). A value
 * of the data must never reach an error message, the terminal or `_ingesta_runs.message`: these turn such an error
 * into what failed and where (column, record number, target type), without the value.
 */

/** Error classes of DuckDB whose messages are about a value (and may quote it). */
const VALUE_ERRORS = /^(Conversion Error|Invalid Input Error|Constraint Error|Out of Range Error)\b/;

/** The column a DuckDB conversion error names: the CSV reader's `converting column "x"` or a cast's `source column x`. */
export function failedColumn(message: string): string | undefined {
  return /converting column "([^"\n]+)"/.exec(message)?.[1] ?? /when casting from source column ([^\n]+)/.exec(message)?.[1]?.trim();
}

/**
 * One line about a DuckDB failure that holds no value of the data: for an error about a value, its class, the
 * column, the target type and the record (line of the package file) when DuckDB names them; for any other error,
 * its first line (sizes, paths, …), and never what follows an "Original Line".
 */
export function describeDuckdbFailure(message: string): string {
  const kind = VALUE_ERRORS.exec(message)?.[1];
  if (!kind && !/Original Line/.test(message)) return message.split('\n')[0]!.trim();
  const column = failedColumn(message);
  const line = /CSV Error on Line: (\d+)/.exec(message)?.[1];
  const type = /to '?((?:DECIMAL|TIMESTAMP|DATE|INTEGER|BIGINT|SMALLINT|DOUBLE|FLOAT|BOOLEAN|UUID|TIME|INTERVAL|JSON|BLOB)[A-Z0-9_(), ]*?)'?(?: when|\.|\n|$)/.exec(message)?.[1];
  const where = `${column ? `column ${column}` : 'a column'}${line ? ` (record ${line} of the extract)` : ''}`;
  if (message.includes(OUT_OF_RANGE_MARKER)) {
    return `${where} holds a date or timestamp outside the range ingesta types exactly (BC, or after the year 294246) inside a list, which cannot fall back to text`;
  }
  return `${kind ?? 'Conversion Error'}: ${where} holds a value that cannot be converted${type ? ` to ${type}` : ''} (the value is not shown)`;
}
