import { isTextType } from './types.js';
import { tokenize, type Token } from './sql-tokens.js';

/**
 * Trino's type check of comparisons between a column and a literal, which DuckDB would let through by casting:
 * `date_col < '2020-01-01'` is `TYPE_MISMATCH: … Cannot apply operator: date < varchar(10)` in Athena, and so is
 * `varchar_col = 5`. A typed literal (DATE '…', TIMESTAMP '…') or a CAST is what Trino needs.
 */

/** A column's Glue type by (unqualified) name, over the tables a statement reads; undefined when unknown. */
export type ColumnTypes = (column: string) => string | undefined;

const TYPED_LITERAL = new Set(['date', 'timestamp', 'time', 'decimal', 'interval', 'real', 'double', 'varchar', 'char']);
const COMPARISON = new Set(['=', '<>', '!=', '<', '>', '<=', '>=']);

/** The tables a Trino statement names after FROM/JOIN/INTO/USING/UPDATE, as [database or undefined, table]. */
export function referencedTables(sql: string): [string | undefined, string][] {
  const tokens = tokenize(sql);
  const out: [string | undefined, string][] = [];
  const name = (t: Token | undefined) => (t && (t.kind === 'ident' || t.kind === 'word') ? t.value : undefined);
  tokens.forEach((t, i) => {
    if (t.kind !== 'word' || !['from', 'join', 'into', 'using', 'update'].includes(t.value)) return;
    const first = name(tokens[i + 1]);
    if (!first || tokens[i + 1]!.value === 'select') return;
    if (tokens[i + 2]?.text === '.' && name(tokens[i + 3])) out.push([first, name(tokens[i + 3])!]);
    else out.push([undefined, first]);
  });
  return out;
}

function trinoType(literal: Token): string {
  if (literal.kind === 'string') return `varchar(${[...literal.value].length})`;
  return /[.eE]/.test(literal.value) ? 'decimal' : 'integer';
}

function shown(glueType: string): string {
  const t = glueType.toLowerCase();
  return t === 'string' ? 'varchar' : t === 'int' ? 'integer' : t;
}

/** The first type error of `sql` worded as Athena reports it (TYPE_MISMATCH: line L:C: …), or undefined. */
export function typeError(sql: string, types: ColumnTypes): string | undefined {
  const tokens = tokenize(sql);
  const columnAt = (i: number): string | undefined => {
    const t = tokens[i];
    if (!t || (t.kind !== 'ident' && t.kind !== 'word')) return undefined;
    if (tokens[i + 1]?.text === '(') return undefined; // a function call
    return types(t.value);
  };
  const mismatch = (glueType: string, literal: Token): boolean => {
    if (literal.kind === 'string') return !isTextType(glueType);
    if (literal.kind === 'number') return isTextType(glueType);
    return false;
  };
  const isLiteral = (i: number) => {
    const t = tokens[i];
    if (!t || (t.kind !== 'string' && t.kind !== 'number')) return false;
    const before = tokens[i - 1];
    return !(t.kind === 'string' && before?.kind === 'word' && TYPED_LITERAL.has(before.value));
  };
  for (let k = 0; k < tokens.length; k++) {
    const op = tokens[k]!;
    if (op.kind === 'op' && COMPARISON.has(op.text)) {
      const left = columnAt(k - 1);
      if (left !== undefined && isLiteral(k + 1) && mismatch(left, tokens[k + 1]!)) {
        const at = tokens[k - 1]!;
        return `TYPE_MISMATCH: line ${at.line}:${at.column}: Cannot apply operator: ${shown(left)} ${op.text} ${trinoType(tokens[k + 1]!)}`;
      }
      const right = columnAt(k + 1);
      if (right !== undefined && isLiteral(k - 1) && mismatch(right, tokens[k - 1]!)) {
        const at = tokens[k - 1]!;
        return `TYPE_MISMATCH: line ${at.line}:${at.column}: Cannot apply operator: ${trinoType(tokens[k - 1]!)} ${op.text} ${shown(right)}`;
      }
    }
    if (op.kind === 'word' && op.value === 'in' && tokens[k + 1]?.text === '(') {
      const at = tokens[k - 1]?.value === 'not' ? k - 2 : k - 1;
      const column = columnAt(at);
      if (column === undefined) continue;
      for (let j = k + 2; j < tokens.length && tokens[j]!.text !== ')'; j++) {
        if (isLiteral(j) && mismatch(column, tokens[j]!)) {
          const t = tokens[at]!;
          return `TYPE_MISMATCH: line ${t.line}:${t.column}: IN value and list items must be the same type: ${shown(column)}`;
        }
      }
    }
  }
  return undefined;
}
