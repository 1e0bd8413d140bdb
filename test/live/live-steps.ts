import { expectAthenaEqualsSource, type AthenaReader } from '../helpers/athena-compare.js';
import { KEYS } from '../helpers/datavision.js';
import type { TestDatabase } from '../helpers/postgres.js';

/**
 * The source changes of the live check, shared by the live test (real AWS) and its offline rehearsal on the loopback
 * stand-in, so both run the same scenario.
 */
export const TABLES = Object.keys(KEYS);

/** Every DataVision table read through `reader` equals the source, value by value. */
export async function expectAllTablesEqualSource(reader: AthenaReader, db: TestDatabase, dataset: string, label: string): Promise<void> {
  for (const table of TABLES) await expectAthenaEqualsSource(reader, db, dataset, table, KEYS[table]!, `${label}: ${table}`);
}

/** Before the incremental run: updates, an insert, and hard deletes (one content with its attributes, some payments). */
export async function changeSourceForIncremental(db: TestDatabase): Promise<void> {
  await db.query(`UPDATE contents SET title = 'changed live', updated_at = now() WHERE content_id % 10 = 0`);
  await db.query(`INSERT INTO contents (content_id, account_id, title, content_type, created_at, updated_at)
    SELECT max(content_id) + 1, 1, 'new live', 'video', now(), now() FROM contents`);
  const [gone] = await db.query(`SELECT content_id FROM contents ORDER BY content_id DESC OFFSET 1 LIMIT 1`);
  await db.query(`DELETE FROM content_attributes WHERE content_id = ${gone!.content_id}`);
  await db.query(`DELETE FROM contents WHERE content_id = ${gone!.content_id}`);
  await db.query(`UPDATE accounts SET updated_at = now() WHERE account_id % 7 = 0`);
  await db.query(`DELETE FROM subscription_payments WHERE payment_id % 5 = 0`);
}

/** Before `--reconcile`: a late commit no cursor window sees (an update back-dated by 3 days). */
export async function backDateOneUpdate(db: TestDatabase): Promise<void> {
  const [late] = await db.query(`SELECT content_id FROM contents ORDER BY content_id LIMIT 1`);
  await db.query(`UPDATE contents SET title = 'committed late', updated_at = updated_at - interval '3 days' WHERE content_id = ${late!.content_id}`);
}
