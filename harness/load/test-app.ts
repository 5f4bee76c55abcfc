/**
 * The app the load generator's tests drive: TIKETI instances in this process (so a test can reach
 * into their Socket.IO server), configured as the harness configures an EC2 instance
 * (`appEnvironment`), over a test data tier from `servers/`.
 */
import { pino } from 'pino';
import { loadConfig } from '../../app/config.ts';
import { type StartedTiketiServer, startTiketiServer } from '../../app/server.ts';
import type { DataTierServers } from '../../servers/data-tier.ts';
import { appEnvironment } from '../instances/app-instance.ts';

export const TEST_TOKEN_SECRET = 'load-test-secret-at-least-16-chars';

/** Queue updates and admission ticks fast enough for a test to see them within a second. */
const FAST_TIMINGS = {
  QUEUE_UPDATE_MS: '100',
  QUEUE_UPDATE_SIMULATED_MS: '100',
  ADMISSION_TICK_MS: '50',
  ADMISSION_LEASE_MS: '1000',
};

/** An app instance on a free port; `env` adds to or overrides its settings (INSTANCE_ID too). */
export function startTestInstance(
  tier: DataTierServers,
  env: Record<string, string> = {},
): Promise<StartedTiketiServer> {
  const settings = appEnvironment(
    {
      id: env.INSTANCE_ID ?? 'app-1',
      az: 'a',
      endpoints: {
        redis: { kind: 'url', url: tier.redis.url },
        postgres: { writerUrl: tier.postgres.url, readerUrl: tier.postgres.url },
      },
      tokenSecret: TEST_TOKEN_SECRET,
      env: { LOG_LEVEL: 'silent', ...FAST_TIMINGS, ...env },
    },
    0,
  );
  return startTiketiServer(loadConfig(settings), { log: pino({ level: 'silent' }) });
}
