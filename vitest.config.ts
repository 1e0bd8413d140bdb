import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // real PostgreSQL and DuckDB: each file makes its own database. Three at a time on a 2-core machine: a test
    // mostly waits (for its CLI runs, PostgreSQL, a lock or a deliberately slow read), so a third file fills the idle
    // time — measured on a quiet clone: 4 min 51 s with 3, about 10 min with 2
    pool: 'forks',
    maxWorkers: 3,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // suite-wide secret scan of every CLI output (test/helpers/secrets.ts)
    globalSetup: ['test/global-setup.ts'],
  },
});
