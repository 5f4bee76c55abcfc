/**
 * The `containers` backend: the same topology as `local` — Redis primary, replica and three
 * Sentinels; PostgreSQL writer and synchronous streaming replica — in containers started through
 * Testcontainers, for machines with a Docker engine and no server binaries.
 *
 * Pinned to testcontainers 11: version 12 requires Node ≥ 22 and fails on import on Node 20.
 */
import { PostgreSqlContainer } from '@testcontainers/postgresql';
import { RedisContainer } from '@testcontainers/redis';
import pg from 'pg';
import {
  GenericContainer,
  getContainerRuntimeClient,
  Network,
  type StartedTestContainer,
  Wait,
} from 'testcontainers';
import { startProxyHost } from '../../../servers/fault-proxy/proxy-host.ts';
import { DEFAULT_MASTER_NAME } from '../../../servers/redis-sentinel-group.ts';
import { waitUntil } from '../../../servers/wait-until.ts';
import { type Backend, BackendUnavailableError, type HostPort, type StartedBackend } from '../backend.ts';

const REDIS_IMAGE = 'redis:7.2-alpine';
const POSTGRES_IMAGE = 'postgres:15-alpine';
const DB = { user: 'tiketi', password: 'tiketi', database: 'tiketi' };

/** Asks the library's own runtime-client lookup whether a container engine answers. */
export async function containerEngineAvailable(): Promise<{ ok: true } | { ok: false; reason: string }> {
  try {
    await getContainerRuntimeClient();
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

async function sql(url: string, text: string): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows;
  } finally {
    await client.end();
  }
}

export const containersBackend: Backend = {
  kind: 'containers',
  async start(options) {
    const engine = await containerEngineAvailable();
    if (!engine.ok)
      throw new BackendUnavailableError(
        `--backend containers: no container engine answers (${engine.reason}).`,
      );
    const network = await new Network().start();
    const started: StartedTestContainer[] = [];
    const stop = async () => {
      await Promise.allSettled(started.reverse().map((c) => c.stop()));
      await network.stop().catch(() => undefined);
    };
    try {
      // Redis: primary, replica, three Sentinels on one network; Sentinel announces network
      // addresses, which the natMap turns into the ports mapped on this host.
      const serverArgs = options.redisServerArgs ?? [];
      const primary = await new RedisContainer(REDIS_IMAGE)
        .withNetwork(network)
        .withNetworkAliases('redis-primary')
        .withCommand(['redis-server', ...serverArgs])
        .start();
      started.push(primary);
      const replica = await new RedisContainer(REDIS_IMAGE)
        .withNetwork(network)
        .withNetworkAliases('redis-replica')
        .withCommand(['redis-server', '--replicaof', 'redis-primary', '6379', ...serverArgs])
        .start();
      started.push(replica);
      const downAfterMs = options.redisDownAfterMs ?? 1_000;
      const failoverTimeoutMs = options.redisFailoverTimeoutMs ?? 10_000;
      const primaryIp = primary.getIpAddress(network.getName());
      const sentinelConfig = [
        'port 26379',
        `sentinel monitor ${DEFAULT_MASTER_NAME} ${primaryIp} 6379 2`,
        `sentinel down-after-milliseconds ${DEFAULT_MASTER_NAME} ${downAfterMs}`,
        `sentinel failover-timeout ${DEFAULT_MASTER_NAME} ${failoverTimeoutMs}`,
        '',
      ].join('\n');
      const sentinels: StartedTestContainer[] = [];
      for (let i = 1; i <= 3; i++) {
        const sentinel = await new GenericContainer(REDIS_IMAGE)
          .withNetwork(network)
          .withNetworkAliases(`redis-sentinel-${i}`)
          .withExposedPorts(26379)
          .withCopyContentToContainer([
            { content: sentinelConfig, target: '/data/sentinel.conf', mode: 0o666 },
          ])
          .withCommand(['redis-server', '/data/sentinel.conf', '--sentinel'])
          .withWaitStrategy(Wait.forLogMessage(/monitor master/))
          .start();
        started.push(sentinel);
        sentinels.push(sentinel);
      }
      const natMap: Record<string, HostPort> = {
        [`${primaryIp}:6379`]: { host: primary.getHost(), port: primary.getMappedPort(6379) },
        [`${replica.getIpAddress(network.getName())}:6379`]: {
          host: replica.getHost(),
          port: replica.getMappedPort(6379),
        },
      };

      // PostgreSQL: a writer that accepts replication connections, and a replica cloned from it.
      const writer = await new PostgreSqlContainer(POSTGRES_IMAGE)
        .withNetwork(network)
        .withNetworkAliases('aurora-writer')
        .withUsername(DB.user)
        .withPassword(DB.password)
        .withDatabase(DB.database)
        .withCopyContentToContainer([
          {
            content: 'echo "host replication all all trust" >> "$PGDATA/pg_hba.conf"\n',
            target: '/docker-entrypoint-initdb.d/10-replication.sh',
            mode: 0o755,
          },
        ])
        .withCommand([
          'postgres',
          '-c',
          'wal_level=replica',
          '-c',
          'max_wal_senders=10',
          '-c',
          'hot_standby=on',
        ])
        .start();
      started.push(writer);
      const replicaDb = await new GenericContainer(POSTGRES_IMAGE)
        .withNetwork(network)
        .withNetworkAliases('aurora-replica')
        .withExposedPorts(5432)
        .withUser('postgres')
        .withEnvironment({ PGPASSWORD: DB.password })
        .withEntrypoint(['sh', '-c'])
        .withCommand([
          'until pg_basebackup -h aurora-writer -U tiketi -D /tmp/replica -X stream -R --checkpoint=fast; do sleep 1; done; ' +
            'chmod 700 /tmp/replica; exec postgres -D /tmp/replica -c cluster_name=replica -c hot_standby=on',
        ])
        .withWaitStrategy(Wait.forLogMessage(/ready to accept read.only connections/))
        .start();
      started.push(replicaDb);
      const writerUrl = writer.getConnectionUri();
      if (options.synchronousReplication ?? true) {
        await sql(writerUrl, "ALTER SYSTEM SET synchronous_standby_names = 'replica'");
        await sql(writerUrl, 'SELECT pg_reload_conf()');
        await waitUntil(
          'the replica to become synchronous',
          async () =>
            (await sql(writerUrl, 'SELECT sync_state FROM pg_stat_replication')).some(
              (r) => r.sync_state === 'sync',
            ),
          { timeoutMs: 60_000, intervalMs: 250 },
        ).catch((err: Error) => {
          throw new BackendUnavailableError(`containers: ${err.message}`, { cause: err });
        });
      }
      // Endpoints that stay put while servers change, like Aurora's cluster endpoints.
      const proxies = await startProxyHost();
      const writerEndpoint = await proxies.route('aurora-writer', {
        host: writer.getHost(),
        port: writer.getPort(),
      });
      const readerEndpoint = await proxies.route('aurora-reader', {
        host: replicaDb.getHost(),
        port: replicaDb.getMappedPort(5432),
      });
      const urlOf = (port: number) => `postgres://${DB.user}:${DB.password}@127.0.0.1:${port}/${DB.database}`;
      const stopAll = async () => {
        await proxies.stop();
        await stop();
      };
      const backend: StartedBackend = {
        kind: 'containers',
        endpoints: {
          redis: {
            kind: 'sentinel',
            sentinels: sentinels.map((s) => ({ host: s.getHost(), port: s.getMappedPort(26379) })),
            masterName: DEFAULT_MASTER_NAME,
            natMap,
          },
          postgres: { writerUrl: urlOf(writerEndpoint.port), readerUrl: urlOf(readerEndpoint.port) },
        },
        components: () => [
          {
            name: 'redis-primary',
            role: 'redis-primary',
            az: 'a',
            address: `${primary.getHost()}:${primary.getMappedPort(6379)}`,
          },
          {
            name: 'redis-replica',
            role: 'redis-replica',
            az: 'b',
            address: `${replica.getHost()}:${replica.getMappedPort(6379)}`,
          },
          ...sentinels.map((s, i) => ({
            name: `redis-sentinel-${i + 1}`,
            role: 'redis-sentinel' as const,
            az: i % 2 === 0 ? 'a' : 'b',
            address: `${s.getHost()}:${s.getMappedPort(26379)}`,
          })),
          {
            name: 'aurora-writer',
            role: 'db-writer',
            az: 'a',
            address: `${writer.getHost()}:${writer.getPort()}`,
          },
          {
            name: 'aurora-replica',
            role: 'db-replica',
            az: 'b',
            address: `${replicaDb.getHost()}:${replicaDb.getMappedPort(5432)}`,
          },
        ],
        stop: stopAll,
        [Symbol.asyncDispose]: stopAll,
      };
      return backend;
    } catch (err) {
      await stop();
      throw err;
    }
  },
};
