/** The `local` backend: real redis-server and PostgreSQL processes started on this machine. */
import type { Backend, BackendComponent, StartedBackend } from '../backend.ts';
import { startPostgresCluster } from './postgres-cluster.ts';
import { startRedisSentinelGroup } from './redis-sentinel-group.ts';

export const localBackend: Backend = {
  kind: 'local',
  async start(options) {
    const [redis, postgres] = await Promise.allSettled([
      startRedisSentinelGroup({
        downAfterMs: options.redisDownAfterMs,
        failoverTimeoutMs: options.redisFailoverTimeoutMs,
        log: options.log,
      }),
      startPostgresCluster({ synchronous: options.synchronousReplication ?? true, log: options.log }),
    ]);
    if (redis.status === 'rejected' || postgres.status === 'rejected') {
      await Promise.allSettled([
        redis.status === 'fulfilled' && redis.value.stop(),
        postgres.status === 'fulfilled' && postgres.value.stop(),
      ]);
      throw redis.status === 'rejected' ? redis.reason : (postgres as PromiseRejectedResult).reason;
    }
    const group = redis.value;
    const cluster = postgres.value;
    const stop = async () => {
      await Promise.allSettled([group.stop(), cluster.stop()]);
    };
    const started: StartedBackend & { redisGroup: typeof group; postgresCluster: typeof cluster } = {
      kind: 'local',
      redisGroup: group,
      postgresCluster: cluster,
      endpoints: {
        redis: { kind: 'sentinel', sentinels: group.sentinelAddresses, masterName: group.masterName },
        postgres: { writerUrl: cluster.writerUrl, readerUrl: cluster.readerUrl },
      },
      components(): BackendComponent[] {
        const [primary, replica] = group.nodes;
        const list: BackendComponent[] = [
          {
            name: primary!.server.name,
            role: 'redis-primary',
            az: primary!.az,
            pid: primary!.server.pid,
            address: `127.0.0.1:${primary!.server.port}`,
          },
          {
            name: replica!.server.name,
            role: 'redis-replica',
            az: replica!.az,
            pid: replica!.server.pid,
            address: `127.0.0.1:${replica!.server.port}`,
          },
          ...group.sentinels.map((s) => ({
            name: s.name,
            role: 'redis-sentinel' as const,
            az: s.az,
            pid: s.process.pid,
            address: `127.0.0.1:${s.port}`,
          })),
          {
            name: cluster.writer.name,
            role: 'db-writer',
            pid: cluster.writer.pid,
            address: `127.0.0.1:${cluster.writer.port}`,
          },
        ];
        if (cluster.replica) {
          list.push({
            name: cluster.replica.name,
            role: 'db-replica',
            pid: cluster.replica.pid,
            address: `127.0.0.1:${cluster.replica.port}`,
          });
        }
        return list;
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
    return started;
  },
};
