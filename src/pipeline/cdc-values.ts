import { OUT_OF_RANGE_MARKER, type ColumnMapping } from '../normalize/column-mapping.js';

/**
 * pgoutput sends each value as its type's output text, while a COPY of the same column sends what the column's
 * `selectSql` makes of it (normalize/column-mapping.ts): for most types the same text, for a few a rewrite that the loader's
 * cast expects. This converts the one into the other, exactly (no Number or Date on the way), so a change is loaded
 * through the very same casts as a full extract. The session that decodes uses the run's settings (UTC, ISO dates,
 * IntervalStyle postgres, extra_float_digits 3, hex bytea), as COPY does.
 */
export type ValueConverter = (text: string) => string;

const same: ValueConverter = (text) => text;

/** The converter for one mapped column. */
export function converterFor(column: ColumnMapping): ValueConverter {
  const type = column.destinationType;
  if (type === 'BLOB') return (text) => (text.startsWith('\\x') ? text.slice(2) : text);
  if (type === 'INTERVAL') return intervalText;
  if (column.sourceType === 'money') return moneyText;
  if (type === 'DATE' || type === 'TIMESTAMP' || type === 'TIMESTAMPTZ') return temporalText;
  if (column.selectSql.startsWith('to_json(') || column.selectSql.includes(`ELSE to_json(`)) return arrayJson(type);
  return same;
}

/** BC values and years past DuckDB's range get the marker the loader refuses (then the column falls back to text). */
function outOfRange(text: string): boolean {
  if (text === 'infinity' || text === '-infinity') return false;
  if (text.endsWith(' BC')) return true;
  const year = /^(\d+)-/.exec(text);
  return year !== null && Number(year[1]) >= 294247;
}

function temporalText(text: string): string {
  return outOfRange(text) ? `${OUT_OF_RANGE_MARKER}${text}` : text;
}

/** money as numeric text (the C locale's `$1,234.56` / `-$1,234.56`). */
function moneyText(text: string): string {
  return text.replace(/[^0-9.\-]/g, '');
}

/**
 * An interval in IntervalStyle postgres (`1 year 2 mons -3 days +04:05:06.5`) as "months,days,microseconds", the
 * form the interval column's COPY select produces.
 */
export function intervalText(text: string): string {
  let months = 0n;
  let days = 0n;
  let micros = 0n;
  const units = /(-?\d+) (year|years|mon|mons|day|days)\b/g;
  for (let m = units.exec(text); m; m = units.exec(text)) {
    const n = BigInt(m[1]!);
    if (m[2]!.startsWith('year')) months += n * 12n;
    else if (m[2]!.startsWith('mon')) months += n;
    else days += n;
  }
  const time = /([+-])?(\d+):(\d{2}):(\d{2})(?:\.(\d{1,6}))?/.exec(text);
  if (time) {
    const sign = time[1] === '-' ? -1n : 1n;
    const fraction = BigInt((time[5] ?? '').padEnd(6, '0') || '0');
    micros = sign * (BigInt(time[2]!) * 3_600_000_000n + BigInt(time[3]!) * 60_000_000n + BigInt(time[4]!) * 1_000_000n + fraction);
  }
  return `${months},${days},${micros}`;
}

/** Parses a PostgreSQL array literal ({1,NULL,"a b"}, nested) into nested arrays of strings and nulls. */
export function parseArray(text: string): unknown {
  let i = text.startsWith('[') ? text.indexOf('=') + 1 : 0; // skip explicit bounds ([0:2]={…})
  const parse = (): unknown[] => {
    const out: unknown[] = [];
    i += 1; // {
    if (text[i] === '}') {
      i += 1;
      return out;
    }
    for (;;) {
      if (text[i] === '{') out.push(parse());
      else if (text[i] === '"') {
        let s = '';
        i += 1;
        while (text[i] !== '"') {
          if (text[i] === '\\') i += 1;
          s += text[i];
          i += 1;
        }
        i += 1;
        out.push(s);
      } else {
        let j = i;
        while (text[j] !== ',' && text[j] !== '}') j += 1;
        const raw = text.slice(i, j).trim();
        out.push(raw === 'NULL' ? null : raw);
        i = j;
      }
      if (text[i] === ',') i += 1;
      else {
        i += 1; // }
        return out;
      }
    }
  };
  return parse();
}

/** to_json of an array: numbers and booleans as JSON literals, the rest as strings; a BC date marks the whole value. */
function arrayJson(destinationType: string): ValueConverter {
  const element = destinationType.replace(/\[\]$/, '');
  const numeric = /^(SMALLINT|INTEGER|BIGINT|UBIGINT|FLOAT|DOUBLE|DECIMAL)/.test(element);
  const temporal = /^(DATE|TIMESTAMP|TIMESTAMPTZ)$/.test(element);
  const json = (v: unknown): string => {
    if (Array.isArray(v)) return `[${v.map(json).join(',')}]`;
    if (v === null) return 'null';
    const s = v as string;
    if (numeric && /^-?[0-9.eE+-]+$/.test(s)) return s;
    if (element === 'BOOLEAN') return s === 't' ? 'true' : 'false';
    return JSON.stringify(s);
  };
  return (text) => {
    const parsed = parseArray(text);
    if (temporal && (parsed as unknown[]).flat(Infinity).some((v) => typeof v === 'string' && outOfRange(v))) return `${OUT_OF_RANGE_MARKER}${text}`;
    return json(parsed);
  };
}
