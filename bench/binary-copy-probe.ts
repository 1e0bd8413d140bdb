/**
 * Prototype for issue #16's "path past the CSV floor": PostgreSQL's binary COPY decoded in Node and appended to
 * DuckDB as data chunks (@duckdb/node-api DuckDBDataChunk + appender), against the current path (COPY csv → file →
 * DuckDB read_csv), on one table of simple types: the generator's subscription_payments (int4, int4, timestamptz,
 * numeric(10,2), varchar, varchar). Each variant runs in its own process with DuckDB on one thread; the figure is
 * the process's CPU-seconds (user + sys), PostgreSQL's backend excluded (bench/lib-cpu.ts measures it in the bench).
 *
 *   npx tsx bench/binary-copy-probe.ts <database-url> csv|binary [rows-limit]
 *
 * Only these column types are decoded: enough to see whether decoding + appending in JS can undercut DuckDB's CSV
 * parse at all, before any wider decoder is written.
 */
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { DECIMAL, DuckDBDataChunk, DuckDBDecimalValue, DuckDBInstance, DuckDBTimestampTZValue, INTEGER, TIMESTAMPTZ, VARCHAR, type DuckDBValue } from '@duckdb/node-api';

const [url, mode = 'csv', limit] = process.argv.slice(2);
if (!url) throw new Error('usage: binary-copy-probe.ts <database-url> csv|binary [rows]');
const select = `SELECT payment_id, account_subscription_id, payment_date, amount, payment_method, billing_cycle FROM public.subscription_payments${limit ? ` LIMIT ${Number(limit)}` : ''}`;
const PG_EPOCH_US = 946684800000000n;
const CHUNK = 2048;

const dir = mkdtempSync(join(os.tmpdir(), 'ingesta-binprobe-'));
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const client = new pg.Client({ connectionString: url });
await client.connect();
await client.query("SET TimeZone = 'UTC'");
const duck = await DuckDBInstance.create(join(dir, 'p.duckdb'));
const conn = await duck.connect();
await conn.run('SET threads = 1');
await conn.run("SET TimeZone = 'UTC'");
await conn.run('CREATE TABLE t (payment_id INTEGER, account_subscription_id INTEGER, payment_date TIMESTAMPTZ, amount DECIMAL(10,2), payment_method VARCHAR, billing_cycle VARCHAR)');
const c0 = cpu();
const t0 = performance.now();
let rows = 0;

if (mode === 'csv') {
  const file = join(dir, 't.csv');
  await pipeline(client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT csv)`)), createWriteStream(file, { highWaterMark: 1 << 20 }));
  const r = await conn.runAndReadAll(
    `INSERT INTO t SELECT * FROM read_csv('${file}', columns = {'a': 'INTEGER', 'b': 'INTEGER', 'c': 'TIMESTAMPTZ', 'd': 'DECIMAL(10,2)', 'e': 'VARCHAR', 'f': 'VARCHAR'}, header = false, auto_detect = false, delim = ',', quote = '"', escape = '"', nullstr = '', allow_quoted_nulls = false, strict_mode = true)`,
  );
  rows = Number(Object.values(r.getRowObjectsJS()[0] ?? {})[0] ?? 0);
} else {
  const appender = await conn.createAppender('t');
  const types = [INTEGER, INTEGER, TIMESTAMPTZ, DECIMAL(10, 2), VARCHAR, VARCHAR];
  let cols: DuckDBValue[][] = types.map(() => []);
  let n = 0;
  const flush = () => {
    if (n === 0) return;
    const chunk = DuckDBDataChunk.create(types, n);
    chunk.setColumns(cols);
    appender.appendDataChunk(chunk);
    rows += n;
    n = 0;
    cols = types.map(() => []);
  };
  let buf: Buffer = Buffer.alloc(0);
  let headerDone = false;
  /** numeric binary (ndigits, weight, sign, dscale, base-10000 digits) → unscaled bigint at `scale`. */
  const numeric = (b: Buffer, o: number, scale: number): bigint => {
    const ndigits = b.readInt16BE(o);
    const weight = b.readInt16BE(o + 2);
    const sign = b.readUInt16BE(o + 4);
    let v = 0n;
    // value = Σ digit_i × 10000^(weight − i); scaled by 10^scale
    for (let i = 0; i < ndigits; i++) v = v * 10000n + BigInt(b.readInt16BE(o + 8 + 2 * i));
    const exp = 4 * (weight - ndigits + 1) + scale; // power of ten to apply
    v = exp >= 0 ? v * 10n ** BigInt(exp) : v / 10n ** BigInt(-exp);
    return sign === 0x4000 ? -v : v;
  };
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      let o = 0;
      if (!headerDone) {
        if (buf.length < 19) return done();
        o = 19 + buf.readInt32BE(15);
        headerDone = true;
      }
      for (;;) {
        if (buf.length - o < 2) break;
        const fields = buf.readInt16BE(o);
        if (fields === -1) {
          o += 2;
          break;
        }
        // is the whole tuple here?
        let p = o + 2;
        let complete = true;
        for (let i = 0; i < fields; i++) {
          if (buf.length - p < 4) {
            complete = false;
            break;
          }
          const len = buf.readInt32BE(p);
          p += 4 + Math.max(0, len);
          if (p > buf.length) {
            complete = false;
            break;
          }
        }
        if (!complete) break;
        p = o + 2;
        for (let i = 0; i < fields; i++) {
          const len = buf.readInt32BE(p);
          p += 4;
          let v: DuckDBValue = null;
          if (len >= 0) {
            if (i < 2) v = buf.readInt32BE(p);
            else if (i === 2) v = new DuckDBTimestampTZValue(buf.readBigInt64BE(p) + PG_EPOCH_US);
            else if (i === 3) v = new DuckDBDecimalValue(numeric(buf, p, 2), 10, 2);
            else v = buf.toString('utf8', p, p + len);
            p += len;
          }
          cols[i]!.push(v);
        }
        o = p;
        if (++n === CHUNK) flush();
      }
      buf = buf.subarray(o);
      done();
    },
  });
  await pipeline(client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT binary)`)), sink);
  flush();
  appender.flushSync();
  appender.closeSync();
}
await conn.run('CHECKPOINT');
const ms = cpu() - c0;
const check = (await conn.runAndReadAll('SELECT count(*)::INTEGER AS n, sum(amount)::VARCHAR AS s, max(payment_date)::VARCHAR AS m, sum(length(payment_method))::INTEGER AS l FROM t')).getRowObjectsJS()[0];
console.log(JSON.stringify({ mode, rows, cpuMs: Math.round(ms), wallMs: Math.round(performance.now() - t0), usPerRow: +((ms * 1000) / Math.max(1, rows)).toFixed(2), check }));
conn.closeSync();
duck.closeSync();
await client.end();
rmSync(dir, { recursive: true, force: true });
