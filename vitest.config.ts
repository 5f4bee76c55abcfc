import { defineConfig } from 'vitest/config';

// Integration tests start real redis-server and PostgreSQL processes; give them room on a
// 2-core machine rather than running every file at once.
export default defineConfig({
  test: {
    include: ['{app,harness,infra,scenarios,bench}/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
