import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { duckQuery, expectTableEqualsSource } from '../helpers/duckdb.js';
import { connect } from '../helpers/postgres.js';
import { useDataVisionFixture } from '../helpers/fixture.js';

const DATASET = 'raw_datavision_local';
const fx = useDataVisionFixture(3000, 'conc');

const ingest = (...args: string[]) => runCli(['--env', 'local', '--duckdb-path', fx.duckdbPath, ...args], { DATABASE_URL: fx.db.url });

describe('reads from one snapshot while the source is written', () => {
  it('writers inserting parents and children during the run leave no orphan and no torn table', async () => {
    const writer = await connect(fx.db.url);
    let stop = false;
    let transactions = 0;
    const loop = (async () => {
      let i = 0;
      while (!stop) {
        i += 1;
        await writer.query('BEGIN');
        await writer.query(`INSERT INTO accounts VALUES (${500000 + i}, 'w', NULL, now(), now())`);
        await writer.query(`INSERT INTO contents VALUES (${500000 + i}, ${500000 + i}, 'w', NULL, 'video', now(), now())`);
        await writer.query(`INSERT INTO content_attributes VALUES (${500000 + i}, ${500000 + i}, 'Duración', NULL, 1.5, NULL, now(), now())`);
        await writer.query(`INSERT INTO accounts_subscription VALUES (${500000 + i}, ${500000 + i}, 1, current_date, NULL, now(), now())`);
        await writer.query(`INSERT INTO subscription_payments VALUES (${500000 + i}, ${500000 + i}, now(), 9.99, 'PayPal', 'Mensual')`);
        await writer.query(`DELETE FROM subscription_payments WHERE payment_id = ${i}`);
        await writer.query(`UPDATE contents SET title = 'moving ${i}', updated_at = now() WHERE content_id = ${i}`);
        await writer.query('COMMIT');
        transactions += 1;
      }
    })();
    try {
      await new Promise((r) => setTimeout(r, 100));
      const result = await ingest();
      expect(result.code, result.stderr).toBe(0);
      const second = await ingest();
      expect(second.code, second.stderr).toBe(0);
    } finally {
      stop = true;
      await loop;
      await writer.end();
    }
    expect(transactions).toBeGreaterThan(5);
    const checks: [string, string, string, string][] = [
      ['contents', 'account_id', 'accounts', 'account_id'],
      ['content_attributes', 'content_id', 'contents', 'content_id'],
      ['accounts_subscription', 'account_id', 'accounts', 'account_id'],
      ['subscription_payments', 'account_subscription_id', 'accounts_subscription', 'account_subscription_id'],
    ];
    for (const [child, fk, parent, pk] of checks) {
      const r = await duckQuery(fx.duckdbPath, `SELECT count(*) AS n FROM ${DATASET}.${child} c WHERE NOT EXISTS (SELECT 1 FROM ${DATASET}.${parent} p WHERE p.${pk} = c.${fk})`);
      expect(Number(r[0]!.n), `${child} → ${parent}`).toBe(0);
    }
    // full tables hold exactly the rows the snapshot counted
    const loads = await duckQuery(
      fx.duckdbPath,
      `SELECT table_name, source_rows, rows_in_destination, mode FROM ${DATASET}._ingesta_loads
       WHERE run_id = (SELECT max(run_id) FROM ${DATASET}._ingesta_runs WHERE status = 'loaded')`,
    );
    for (const l of loads) {
      if (l.mode === 'full') expect(Number(l.rows_in_destination), String(l.table_name)).toBe(Number(l.source_rows));
    }
    // once writes stop, one more run makes every table equal to the source
    expect((await ingest()).code).toBe(0);
    for (const [t, k] of [['accounts', 'account_id'], ['contents', 'content_id'], ['content_attributes', 'attribute_id'], ['subscription_payments', 'payment_id']] as const) {
      await expectTableEqualsSource(fx.db, fx.duckdbPath, DATASET, t, [k]);
    }
  });

  it('a row committed late, with an updated_at older than the stored cursor, is caught inside the lag window', async () => {
    const late = await connect(fx.db.url);
    try {
      await late.query('BEGIN');
      // updated_at is taken now, but the transaction commits only after the next run has advanced the cursor
      await late.query(`UPDATE contents SET title = 'late commit', updated_at = clock_timestamp() WHERE content_id = 5`);
      await new Promise((r) => setTimeout(r, 50));
      await fx.db.query(`UPDATE contents SET title = 'early commit', updated_at = clock_timestamp() WHERE content_id = 6`);
      const first = await ingest('--tables', 'contents');
      expect(first.code, first.stderr).toBe(0);
      const seen = await duckQuery(fx.duckdbPath, `SELECT content_id, title FROM ${DATASET}.contents WHERE content_id IN (5, 6) ORDER BY 1`);
      expect(seen.map((r) => r.title)).toEqual([expect.not.stringMatching('late commit'), 'early commit']);
      await late.query('COMMIT');
    } finally {
      await late.end();
    }
    const second = await ingest('--tables', 'contents');
    expect(second.code, second.stderr).toBe(0);
    const after = await duckQuery(fx.duckdbPath, `SELECT title FROM ${DATASET}.contents WHERE content_id = 5`);
    expect(after[0]!.title).toBe('late commit');
    await expectTableEqualsSource(fx.db, fx.duckdbPath, DATASET, 'contents', ['content_id']);
  });
});
