/**
 * The change file of one table in a load package (written by pipeline/cdc-changes.ts, applied by each destination's
 * CDC apply): one CSV line per change, in commit order — `_seq` (order in the run), `_op` (I insert, U update,
 * D delete, T truncate), `_unchanged` (|i|j|: indexes of the columns the change did not send: an unchanged TOASTed
 * value, or a column the change's relation did not have yet), `_moved` (an update that changed the key: the `_seq`
 * of the delete of its old key, whose row the unsent columns come from), then the table's columns as PostgreSQL text
 * in the form a COPY of the table writes them (cdc-values.ts). A delete carries the old key (every old value with
 * REPLICA IDENTITY FULL); an update that changes the key is written as a delete of the old key and an update of the
 * new one; without a key (REPLICA IDENTITY FULL) every update is a delete of the old row and an insert of the new one.
 */
export const CHANGE_META_COLUMNS = [
  { name: '_seq', csvType: 'BIGINT' },
  { name: '_op', csvType: 'VARCHAR' },
  { name: '_unchanged', csvType: 'VARCHAR' },
  { name: '_moved', csvType: 'BIGINT' },
] as const;
