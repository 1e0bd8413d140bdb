import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, seedDataVision } from '../helpers/postgres.js';

/**
 * Opt-in: runs `ingesta --env dev` against a real AWS account. Needs INGESTA_LIVE_AWS=1, credentials in the usual
 * AWS variables or profile, and BUCKET_URL, QUERY_RESULT_BUCKET, REGION_NAME pointing at resources you can write.
 */
const live = process.env.INGESTA_LIVE_AWS === '1' && Boolean(process.env.AWS_ACCESS_KEY_ID || process.env.AWS_PROFILE) && Boolean(process.env.BUCKET_URL);
if (!live) console.log('live AWS test not run: set INGESTA_LIVE_AWS=1, AWS credentials and BUCKET_URL / QUERY_RESULT_BUCKET / REGION_NAME to run it');

describe.skipIf(!live)('live AWS (opt-in)', () => {
  it('loads the DataVision tables into S3 + Glue + Athena and passes the quality gate', async () => {
    const db = await createTestDatabase();
    try {
      await seedDataVision(db, 50);
      const r = await runCli(['--env', 'dev', '--dataset', `ingesta_live_${Date.now()}`, '--validar-calidad-datos'], { ...process.env, DATABASE_URL: db.url } as Record<string, string>);
      expect(r.code, r.stderr + r.stdout).toBe(0);
    } finally {
      await db.drop();
    }
  }, 600_000);
});
