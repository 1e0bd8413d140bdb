/**
 * SQL quoting shared by PostgreSQL and DuckDB (both follow the standard: "ident" and 'literal', doubled inside).
 * Every identifier and literal that reaches SQL text goes through these two functions.
 */

/** "name" with embedded quotes doubled; refuses NUL, which neither database can store in a name. */
export function quoteIdent(name: string): string {
  if (name.includes('\u0000')) throw new Error('identifier contains a NUL character');
  return `"${name.replace(/"/g, '""')}"`;
}

/** 'text' with embedded quotes doubled (standard_conforming_strings is on in every supported PostgreSQL). */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw new Error('literal contains a NUL character');
  return `'${value.replace(/'/g, "''")}'`;
}

/** schema.table, both quoted. */
export function qualified(schema: string, table: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(table)}`;
}
