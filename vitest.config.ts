import { defineConfig } from 'vitest/config';

// Integration tests start real redis-server and PostgreSQL processes; give them room on a
// 2-core machine rather than running every file at once. End-to-end rehearsals (`*.e2e.test.ts`)
// start the whole topology and load; they run afterwards, one at a time (vitest.e2e.config.ts),
// so they never compete with each other for the two cores.
export default defineConfig({
  test: {
    include: ['{app,harness,infra,scenarios,servers,bench}/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/*.e2e.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
