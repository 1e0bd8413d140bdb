/**
 * What a run's resident memory is made of, sampled from inside the ingesta process (a diagnostic, not part of the
 * product): preloaded with `node --import ./bench/memory-trace.mjs dist/cli/main.js …` and MEMORY_TRACE=<file>, it
 * wraps DuckDBInstance.create so every DuckDB instance the run opens gets a second connection that reads
 * duckdb_memory() every 200 ms, beside process.memoryUsage() and /proc/self/status (VmRSS, RssAnon, RssFile). Each
 * sample is one JSON line in the file; `node bench/memory-trace-report.mjs <file> [<json log>]` summarises the peak.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const out = process.env.MEMORY_TRACE;
const kb = (name, text) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;

if (out) {
  const create = DuckDBInstance.create.bind(DuckDBInstance);
  DuckDBInstance.create = async (...args) => {
    const instance = await create(...args);
    const connection = await instance.connect();
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      connection
        .runAndReadAll('SELECT tag, memory_usage_bytes::BIGINT AS m, temporary_storage_bytes::BIGINT AS t FROM duckdb_memory() WHERE memory_usage_bytes > 0 OR temporary_storage_bytes > 0')
        .then((reader) => {
          const status = readFileSync('/proc/self/status', 'utf8');
          const duck = Object.fromEntries(reader.getRowObjectsJS().map((r) => [String(r.tag), Number(r.m)]));
          const spilled = reader.getRowObjectsJS().reduce((s, r) => s + Number(r.t), 0);
          const node = process.memoryUsage();
          appendFileSync(out, `${JSON.stringify({ t: Date.now(), rss: kb('VmRSS', status), anon: kb('RssAnon', status), file: kb('RssFile', status), hwm: kb('VmHWM', status), heapTotal: node.heapTotal, external: node.external, arrayBuffers: node.arrayBuffers, duck, spilled })}\n`);
        })
        .catch(() => clearInterval(timer))
        .finally(() => {
          busy = false;
        });
    }, 200);
    timer.unref();
    const closeSync = instance.closeSync.bind(instance);
    instance.closeSync = () => {
      clearInterval(timer);
      try {
        connection.closeSync();
      } catch {
        /* closing anyway */
      }
      closeSync();
    };
    return instance;
  };
}
