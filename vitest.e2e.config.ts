import { defineConfig } from 'vitest/config';

// Whole rehearsals: each file starts a topology and load generator of its own, so one at a time.
export default defineConfig({
  test: {
    include: ['{app,harness,infra,scenarios,servers,bench}/**/*.e2e.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
