import { createRequire } from 'node:module';
import type * as DuckDBApi from '@duckdb/node-api';

/**
 * The DuckDB client, loaded with require: @duckdb/node-api is CommonJS, and an ESM `import` of it makes Node scan the
 * package and every file it re-exports for their export names (cjs-module-lexer) before loading them — 0.2–0.4 s of
 * every run's start-up on the 2-core bench machine (import ≈ 550–890 ms, require ≈ 190–450 ms, 4 alternating starts).
 * The one place ingesta loads it; the types still come from the package (type-only imports are erased).
 */
const require = createRequire(import.meta.url);
export const { DuckDBInstance } = require('@duckdb/node-api') as typeof DuckDBApi;
export type DuckDBInstance = DuckDBApi.DuckDBInstance;
