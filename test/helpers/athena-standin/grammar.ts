// the two parsers only (the package's root module loads every dialect it ships: seconds of start-up for nothing)
import { HiveSQL } from 'dt-sql-parser/dist/parser/hive/index.js';
import { TrinoSQL } from 'dt-sql-parser/dist/parser/trino/index.js';

/**
 * Athena parses DDL (CREATE/ALTER/DROP … of tables and databases) with its Hive grammar and everything else (SELECT,
 * MERGE, DELETE, INSERT, UPDATE, CREATE TABLE AS, CREATE VIEW) with Trino's. The grammars here are the engines' own
 * ANTLR grammars as shipped by dt-sql-parser.
 */
let trino: TrinoSQL | undefined;
let hive: HiveSQL | undefined;

export type Grammar = 'trino' | 'hive';

export function grammarOf(sql: string): Grammar {
  const s = sql.trim().replace(/^\(+/, '').toUpperCase();
  if (/^CREATE\s+(OR\s+REPLACE\s+)?VIEW\b/.test(s)) return 'trino';
  if (/^CREATE\s+TABLE\b/.test(s) && /\bAS\s+(SELECT|WITH)\b/.test(s)) return 'trino';
  return /^(CREATE|ALTER|DROP|MSCK|SHOW|DESCRIBE)\b/.test(s) ? 'hive' : 'trino';
}

/**
 * The first syntax error of `sql` in its grammar, worded as Athena's StateChangeReason
 * (`line 1:22: mismatched input 'AS'. …`), or undefined when it parses.
 */
export function syntaxError(sql: string): string | undefined {
  const grammar = grammarOf(sql);
  const parser = grammar === 'trino' ? (trino ??= new TrinoSQL()) : (hive ??= new HiveSQL());
  const [first] = parser.validate(sql);
  if (!first) return undefined;
  const lines = sql.split('\n');
  const line = lines[first.startLine - 1] ?? '';
  const token = line.slice(first.startColumn - 1, Math.max(first.startColumn, first.endColumn - 1)) || '<EOF>';
  const where = `line ${first.startLine}:${first.startColumn}`;
  return grammar === 'trino'
    ? `${where}: mismatched input '${token}'. ${first.message}`
    : `${where}: FAILED: ParseException line ${first.startLine}:${first.startColumn - 1} cannot recognize input near '${token}': ${first.message}`;
}
