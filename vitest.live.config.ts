import { defineConfig } from 'vitest/config';

/** `npm run test:aws`: only the live check against a real AWS account (opt-in, see README "Live check against AWS"). */
export default defineConfig({
  test: {
    include: ['test/live/live-aws.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 1_800_000,
    hookTimeout: 600_000,
    globalSetup: ['test/global-setup.ts'],
  },
});
