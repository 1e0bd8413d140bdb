/**
 * Summary of a memory trace (bench/memory-trace.mjs): the sample at the highest RSS and the maxima of each part.
 *   node bench/memory-trace-report.mjs <trace file> [<ingesta json log>]
 * With the run's JSON log, each sample is placed in the table being loaded then (table_load_started … finished).
 */
import { readFileSync } from 'node:fs';

const [traceFile, logFile] = process.argv.slice(2);
const samples = readFileSync(traceFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const events = logFile
  ? readFileSync(logFile, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).filter((e) => /^(table_load_started|commit_started|extract_started|warning)$/.test(e.type))
  : [];
const mb = (b) => `${(b / 1e6).toFixed(0)} MB`;
const duckTotal = (s) => Object.values(s.duck).reduce((a, b) => a + b, 0);
const phaseAt = (t) => {
  let phase = 'before load';
  for (const e of events) if (Date.parse(e.time) <= t && e.type !== 'warning' && e.type !== 'extract_started') phase = e.type === 'commit_started' ? 'commit' : `load ${e.table}`;
  return phase;
};
const peak = samples.reduce((a, b) => (b.rss > a.rss ? b : a));
const max = (f) => mb(Math.max(...samples.map(f)));
console.log(`${samples.length} samples; VmHWM ${mb(Math.max(...samples.map((s) => s.hwm)))}`);
console.log(`at the highest sampled RSS (${phaseAt(peak.t)}): RSS ${mb(peak.rss)} (anon ${mb(peak.anon)}, file ${mb(peak.file)}); Node heap ${mb(peak.heapTotal)}, external ${mb(peak.external)}; DuckDB buffer-managed ${mb(duckTotal(peak))} ${JSON.stringify(Object.fromEntries(Object.entries(peak.duck).map(([k, v]) => [k, mb(v)])))}; spilled ${mb(peak.spilled)}`);
console.log(`maxima: RSS ${max((s) => s.rss)}, anon ${max((s) => s.anon)}, Node heap ${max((s) => s.heapTotal)}, external ${max((s) => s.external)}, DuckDB ${max(duckTotal)}, anon − DuckDB − heap − external ${max((s) => s.anon - duckTotal(s) - s.heapTotal - s.external)}`);
const byPhase = new Map();
for (const s of samples) {
  const p = phaseAt(s.t);
  const prev = byPhase.get(p);
  if (!prev || s.rss > prev.rss) byPhase.set(p, s);
}
for (const [p, s] of byPhase) console.log(`  ${p.padEnd(40)} RSS ${mb(s.rss).padStart(7)}  anon ${mb(s.anon).padStart(7)}  DuckDB ${mb(duckTotal(s)).padStart(7)}  heap ${mb(s.heapTotal).padStart(6)}  ext ${mb(s.external).padStart(6)}`);
for (const e of events.filter((x) => x.type === 'warning')) console.log(`warning: ${e.table ?? ''} ${e.message}`);
