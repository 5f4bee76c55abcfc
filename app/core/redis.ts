/** ioredis clients that follow a Sentinel failover by themselves and never give up reconnecting. */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisSettings } from '../config.ts';

/**
 * Reconnect backoff (50 ms more per attempt, at most 1 s) divided by `speed()`: under a rehearsal
 * clock running N× faster, the app retries N× sooner, so a failover costs it the same simulated
 * time as in production.
 */
export function createRedis(
  settings: RedisSettings,
  log: Logger,
  role: string,
  extra: RedisOptions = {},
  speed: () => number = () => 1,
): Redis {
  const common: RedisOptions = {
    // Commands wait (bounded) through a failover instead of failing at once.
    maxRetriesPerRequest: 3,
    retryStrategy: (times) => Math.max(5, Math.min(50 * times, 1_000) / speed()),
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
    enableAutoPipelining: true,
    ...extra,
  };
  const client =
    settings.kind === 'sentinel'
      ? new Redis({
          ...common,
          sentinels: settings.sentinels,
          name: settings.masterName,
          natMap: settings.natMap,
          sentinelRetryStrategy: (times) => Math.max(5, Math.min(100 * times, 1_000) / speed()),
        })
      : new Redis(settings.url, common);
  let lastError = '';
  client.on('error', (err: Error) => {
    // ioredis reconnects by itself; log each distinct problem once rather than every retry.
    if (err.message !== lastError) log.warn({ role, err: err.message }, 'redis connection problem');
    lastError = err.message;
  });
  client.on('ready', () => {
    if (lastError) log.info({ role }, 'redis connection restored');
    lastError = '';
  });
  return client;
}
