/** The `local` backend: real redis-server and PostgreSQL processes started on this machine. */
import { type ProxyHost, startProxyHost } from '../../../servers/fault-proxy/proxy-host.ts';
import { startPostgresCluster } from '../../../servers/postgres-cluster.ts';
import { startRedisSentinelGroup } from '../../../servers/redis-sentinel-group.ts';
import { silentSteps } from '../../../servers/startup-steps.ts';
import type { Backend, BackendComponent, BackendFaults, StartedBackend } from '../backend.ts';

export const localBackend: Backend = {
  kind: 'local',
  async start(options) {
    const steps = options.steps ?? silentSteps;
    // One fault-proxy process carries the app's paths to Redis and the database. It starts beside
    // the servers; they ask it for routes only once they run.
    const startingProxies = steps.step('fault proxy', () => startProxyHost());
    const routes = {
      route: async (...args: Parameters<ProxyHost['route']>) => (await startingProxies).route(...args),
    };
    const [proxied, redis, postgres] = await Promise.allSettled([
      startingProxies,
      steps.step('Redis primary + replica + 3 Sentinels', () =>
        startRedisSentinelGroup({
          downAfterMs: options.redisDownAfterMs,
          failoverTimeoutMs: options.redisFailoverTimeoutMs,
          serverArgs: options.redisServerArgs,
          log: options.log,
          proxies: options.redisFaultPath ? routes : undefined,
        }),
      ),
      steps.step(
        `PostgreSQL writer + ${(options.synchronousReplication ?? true) ? 'sync' : 'async'} replica`,
        () =>
          startPostgresCluster({
            synchronous: options.synchronousReplication ?? true,
            log: options.log,
            proxies: routes,
          }),
      ),
    ]);
    if (proxied.status === 'rejected' || redis.status === 'rejected' || postgres.status === 'rejected') {
      await Promise.allSettled([
        redis.status === 'fulfilled' && redis.value.stop(),
        postgres.status === 'fulfilled' && postgres.value.stop(),
      ]);
      if (proxied.status === 'fulfilled') await proxied.value.stop();
      throw [proxied, redis, postgres].flatMap((r) => (r.status === 'rejected' ? [r.reason] : []))[0];
    }
    const proxies = proxied.value;
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
