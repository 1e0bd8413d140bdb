import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // real PostgreSQL and DuckDB: each file makes its own database; two at a time on a 2-core machine
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // suite-wide secret scan of every CLI output (test/helpers/secrets.ts)
    globalSetup: ['test/global-setup.ts'],
  },
});
