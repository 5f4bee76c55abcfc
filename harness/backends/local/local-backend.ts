/** The `local` backend: real redis-server and PostgreSQL processes started on this machine. */
import { startProxyHost } from '../../../servers/fault-proxy/proxy-host.ts';
import { startPostgresCluster } from '../../../servers/postgres-cluster.ts';
import { startRedisSentinelGroup } from '../../../servers/redis-sentinel-group.ts';
import { silentSteps } from '../../../servers/startup-steps.ts';
import type { Backend, BackendComponent, BackendFaults, StartedBackend } from '../backend.ts';

export const localBackend: Backend = {
  kind: 'local',
  async start(options) {
    // One fault-proxy process carries the app's paths to Redis and the database.
    const steps = options.steps ?? silentSteps;
    const proxies = await steps.step('fault proxy', () => startProxyHost());
    const [redis, postgres] = await Promise.allSettled([
      steps.step('Redis primary + replica + 3 Sentinels', () =>
        startRedisSentinelGroup({
          downAfterMs: options.redisDownAfterMs,
          failoverTimeoutMs: options.redisFailoverTimeoutMs,
          log: options.log,
          proxies: options.redisFaultPath ? proxies : undefined,
        }),
      ),
      steps.step(
        `PostgreSQL writer + ${(options.synchronousReplication ?? true) ? 'sync' : 'async'} replica`,
        () =>
          startPostgresCluster({
            synchronous: options.synchronousReplication ?? true,
            log: options.log,
            proxies,
          }),
      ),
    ]);
    if (redis.status === 'rejected' || postgres.status === 'rejected') {
      await Promise.allSettled([
        redis.status === 'fulfilled' && redis.value.stop(),
        postgres.status === 'fulfilled' && postgres.value.stop(),
      ]);
      await proxies.stop();
      throw redis.status === 'rejected' ? redis.reason : (postgres as PromiseRejectedResult).reason;
    }
    const group = redis.value;
    const cluster = postgres.value;
    const stop = async () => {
      await Promise.allSettled([group.stop(), cluster.stop()]);
      await proxies.stop();
    };
    const faults: BackendFaults = {
      async killRedisPrimary() {
        const node = await group.primaryNode();
        if (!node) throw new Error('the Sentinels name no primary this backend started');
        await node.server.process.kill();
        return { name: node.server.name, az: node.az };
      },
      async redisPrimaryAddress() {
        const { host, port } = await group.currentPrimary();
        return `${host}:${port}`;
      },
      async redisPrimaryAz() {
        return (await group.primaryNode())?.az;
      },
      async killDbWriter() {
        const writer = cluster.writer;
        const az = cluster.writerAz;
        await writer.process.kill();
        return { name: writer.name, az };
      },
      dbWriterAz: () => cluster.writerAz,
      takeDbWriterEndpointDown: () => cluster.takeWriterEndpointsDown(),
      promoteDbReplica: (o) => cluster.promoteReplica(o),
      switchDbEndpoints: () => cluster.switchEndpointsToWriter(),
      paths: {
        'app-redis': group.nodes.flatMap((n) => (n.route ? [n.route] : [])),
        'app-db': [cluster.writerEndpoint, cluster.readerEndpoint],
      },
    };
    const started: StartedBackend & { redisGroup: typeof group; postgresCluster: typeof cluster } = {
      kind: 'local',
      redisGroup: group,
      postgresCluster: cluster,
      endpoints: {
        redis: {
          kind: 'sentinel',
          sentinels: group.sentinelAddresses,
          masterName: group.masterName,
          natMap: group.natMap,
        },
        postgres: { writerUrl: cluster.writerUrl, readerUrl: cluster.readerUrl },
      },
      adminEndpoints: {
        redis: { kind: 'sentinel', sentinels: group.sentinelAddresses, masterName: group.masterName },
        postgres: { writerUrl: cluster.adminWriterUrl, readerUrl: cluster.adminWriterUrl },
      },
      faults,
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
            az: cluster.writerAz,
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
