/** Examples and exit codes under `ingesta --help`: what a person looks for first. */
export const HELP_FOOTER = `
Examples:
  ingesta --env local                                   the catalog's tables into data/datavision.duckdb
  ingesta --env local --tables accounts sales.orders    some catalog tables and any other source table
  ingesta --env local --full-refresh contents           reload a table from scratch, resetting its cursor
  ingesta --env prod --validar-calidad-datos            load S3 + Athena, then the quality gate (exit 6 if it fails)
  ingesta --env local --solo-validar --report-html q.html   the quality gate alone, read-only
  ingesta --env prod --dry-run                          what a run would do, writing nothing
  ingesta status --env local                            last loads, cursors and runs
  ingesta help status                                   help for a command

Exit codes:
  0    success
  1    unexpected error (a bug: rerun with INGESTA_DEBUG=1 for the stack, and report it)
  2    configuration (flags, settings, catalog, unknown tables)
  3    source (PostgreSQL: connection, missing table, a failed query)
  4    data (a value or schema change the destination cannot take)
  5    destination (in use by another run, not writable, never loaded)
  6    quality gate failed
  130  stopped by SIGTERM / SIGINT

The source connection comes from --source-url / DATABASE_URL, else DATABASE_* then PG* variables; every flag's
variable is in brackets above. README.md has the rest.`;
