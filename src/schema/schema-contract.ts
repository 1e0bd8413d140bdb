import { DataError } from '../errors.js';
import { describeChange, type ColumnChange } from './schema-evolution.js';

/** The error of a `schema_contract: freeze` table whose source schema changed: raised before anything is written. */
export function schemaFrozenError(table: string, changes: readonly ColumnChange[]): DataError {
  return new DataError(
    `Table ${table} has schema_contract freeze, but its source schema changed: ${changes.map((c) => describeChange(table, c)).join('; ')}. ` +
      'Nothing was written. Set schema_contract: evolve in the catalog to follow the change, or fix the source.',
  );
}
