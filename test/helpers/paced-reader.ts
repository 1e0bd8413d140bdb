import { randomBytes } from 'node:crypto';
import { ADMIN_URL, connect, type TestDatabase } from './postgres.js';

/** A login role whose reads of some tables are slowed down on purpose, and the URL it connects with. */
export interface PacedReader {
  readonly role: string;
  readonly url: string;
  /** Drops the role (after the database that granted it anything is dropped). */
  drop(): Promise<void>;
}

/**
 * A role that reads `paced` through a row-level-security policy pausing `seconds` every `every` rows (by `id`), so a
 * read lasts long enough to watch on any machine, and reads `plain` as they are. The tables must exist.
 */
export async function pacedReader(
  db: TestDatabase,
  prefix: string,
  pacing: { readonly paced: readonly string[]; readonly plain?: readonly string[]; readonly every: number; readonly seconds: number },
): Promise<PacedReader> {
  const role = `${prefix}_${randomBytes(4).toString('hex')}`;
  await db.query(`CREATE ROLE ${role} LOGIN`);
  await db.query(`
    CREATE FUNCTION pause_every(id bigint) RETURNS boolean LANGUAGE plpgsql AS $$
      BEGIN IF id % ${pacing.every} = 0 THEN PERFORM pg_sleep(${pacing.seconds}); END IF; RETURN true; END $$;
    ${pacing.paced.map((t) => `ALTER TABLE ${t} ENABLE ROW LEVEL SECURITY; CREATE POLICY ${t}_read ON ${t} FOR SELECT USING (pause_every(id));`).join('\n    ')}
    GRANT SELECT ON ${[...pacing.paced, ...(pacing.plain ?? [])].join(', ')} TO ${role};`);
  const u = new URL(db.url);
  u.username = role;
  return {
    role,
    url: u.toString(),
    drop: async () => {
      const admin = await connect(ADMIN_URL);
      try {
        await admin.query(`DROP ROLE IF EXISTS ${role}`);
      } finally {
        await admin.end();
      }
    },
  };
}
