/**
 * A data tier for tests: one Redis (a single server, or a Redis Cluster as on ElastiCache in
 * cluster mode) and one PostgreSQL, started side by side on free ports.
 */
import { type StartedPostgres, startPostgresServer } from './postgres-server.ts';
import { type StartedRedisCluster, startRedisCluster } from './redis-cluster.ts';
import { type StartedRedis, startRedisServer } from './redis-server.ts';

export interface DataTierServers<R extends StartedRedis | StartedRedisCluster = StartedRedis>
  extends AsyncDisposable {
  redis: R;
  postgres: StartedPostgres;
  stop(): Promise<void>;
}

/** `single`: one redis-server. `cluster`: a Redis Cluster (3 primaries, 3 replicas). */
export type RedisKind = 'single' | 'cluster';

export function startDataTierServers(redis?: 'single'): Promise<DataTierServers>;
export function startDataTierServers(redis: 'cluster'): Promise<DataTierServers<StartedRedisCluster>>;
export function startDataTierServers(
  redis?: RedisKind,
): Promise<DataTierServers<StartedRedis | StartedRedisCluster>>;
export async function startDataTierServers(
  redis: RedisKind = 'single',
): Promise<DataTierServers<StartedRedis | StartedRedisCluster>> {
  const [redisStart, postgresStart] = await Promise.allSettled([
    redis === 'cluster'
      ? startRedisCluster({ name: 'test-redis-cluster' })
      : startRedisServer({ name: 'test-redis' }),
    startPostgresServer({ name: 'test-pg' }),
  ]);
  if (redisStart.status === 'rejected' || postgresStart.status === 'rejected') {
    // One failed: stop the other rather than leave it running.
    await Promise.allSettled(
      [redisStart, postgresStart].flatMap((r) => (r.status === 'fulfilled' ? [r.value.stop()] : [])),
    );
    throw redisStart.status === 'rejected'
      ? redisStart.reason
      : (postgresStart as PromiseRejectedResult).reason;
  }
  const servers = { redis: redisStart.value, postgres: postgresStart.value };
  const stop = async () => {
    await Promise.allSettled([servers.redis.stop(), servers.postgres.stop()]);
  };
  return { ...servers, stop, [Symbol.asyncDispose]: stop };
}
