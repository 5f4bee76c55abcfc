/**
 * ElastiCache's stand-in: a Redis primary, a replica and three Sentinels that promote the replica
 * when the primary dies. Clients connect through the Sentinels (ioredis `sentinels` + `name`), so
 * they follow a failover without being told where the new primary is.
 */
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { requireRedis } from './binaries.ts';
import type { ProxyHost, ProxyRoute } from './fault-proxy/proxy-host.ts';
import { freePort } from './ports.ts';
import { type LogSink, type ManagedProcess, startProcess } from './process.ts';
import { redisCommand, type StartedRedis, startRedisServer } from './redis-server.ts';
import { makeRunDir, type RunDir } from './run-dir.ts';
import { waitUntil } from './wait-until.ts';

export const DEFAULT_MASTER_NAME = 'tiketi';

export interface RedisSentinelGroupOptions {
  /** @default 'tiketi' */
  masterName?: string;
  /** Wall milliseconds without an answer before a Sentinel calls the primary down. @default 1000 */
  downAfterMs?: number;
  /** Sentinel failover-timeout, wall milliseconds. @default 10000 */
  failoverTimeoutMs?: number;
  /** AZ labels of primary and replica. @default ['a', 'b'] */
  azs?: [string, string];
  /** AZ label of each of the three Sentinels. @default ['a', 'b', 'a'] */
  sentinelAzs?: [string, string, string];
  log?: LogSink;
  /**
   * Put each Redis node behind a route of this fault proxy; clients reach the nodes through it
   * (ioredis `natMap` rewrites the addresses Sentinel announces), so the app→Redis path can be
   * delayed or partitioned. Sentinels talk to the nodes directly, as ElastiCache's control plane.
   */
  proxies?: ProxyHost;
}

export interface StartedSentinel {
  readonly name: string;
  readonly az: string;
  readonly port: number;
  readonly process: ManagedProcess;
}

export interface RedisNode {
  readonly server: StartedRedis;
  readonly az: string;
  /** The node's fault-proxy route, when the group has a proxy. */
  readonly route?: ProxyRoute;
}

export interface StartedRedisSentinelGroup extends AsyncDisposable {
  readonly masterName: string;
  readonly nodes: readonly RedisNode[];
  readonly sentinels: readonly StartedSentinel[];
  /** `host:port` of every Sentinel, as the app's REDIS_SENTINELS expects. */
  readonly sentinelAddresses: { host: string; port: number }[];
  /** Announced address → route address, for clients (`natMap`); empty without a proxy. */
  readonly natMap: Record<string, { host: string; port: number }>;
  /** The primary as the Sentinels see it now. */
  currentPrimary(): Promise<{ host: string; port: number }>;
  /** The node the Sentinels call primary now. */
  primaryNode(): Promise<RedisNode | undefined>;
  /** A Sentinel-aware client (caller closes it). */
  client(): Redis;
  stop(): Promise<void>;
}

async function sentinelQuery(port: number, ...args: string[]): Promise<unknown> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => {}); // a refused connection surfaces through the rejected command
  try {
    await client.connect();
    return await client.call('SENTINEL', ...args);
  } finally {
    client.disconnect();
  }
}

async function startSentinel(options: {
  name: string;
  az: string;
  masterName: string;
  primaryPort: number;
  downAfterMs: number;
  failoverTimeoutMs: number;
  log?: LogSink;
}): Promise<{ sentinel: StartedSentinel; run: RunDir }> {
  const { redisServer } = requireRedis();
  const port = await freePort();
  const run = makeRunDir(options.name);
  const configPath = `${run.path}/sentinel.conf`;
  // Sentinel rewrites this file as it learns the topology, so it lives in the run folder.
  writeFileSync(
    configPath,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      'protected-mode no',
      `dir ${run.path}`,
      `sentinel monitor ${options.masterName} 127.0.0.1 ${options.primaryPort} 2`,
      `sentinel down-after-milliseconds ${options.masterName} ${options.downAfterMs}`,
      `sentinel failover-timeout ${options.masterName} ${options.failoverTimeoutMs}`,
      `sentinel parallel-syncs ${options.masterName} 1`,
      '',
    ].join('\n'),
  );
  try {
    const proc = await startProcess({
      name: options.name,
      command: redisServer,
      args: [configPath, '--sentinel'],
      log: options.log,
      ready: async () => (await redisCommand(port, 'PING')) === '+PONG',
    });
    return { sentinel: { name: options.name, az: options.az, port, process: proc }, run };
  } catch (err) {
    run.remove();
    throw err;
  }
}

export async function startRedisSentinelGroup(
  options: RedisSentinelGroupOptions = {},
): Promise<StartedRedisSentinelGroup> {
  const masterName = options.masterName ?? DEFAULT_MASTER_NAME;
  const [azPrimary, azReplica] = options.azs ?? ['a', 'b'];
  const sentinelAzs = options.sentinelAzs ?? ['a', 'b', 'a'];
  const started: { stop(): Promise<void> }[] = [];
  const stopAll = async () => {
    await Promise.allSettled(started.reverse().map((s) => s.stop()));
  };
  try {
    const primary = await startRedisServer({ name: `redis-primary az-${azPrimary}`, log: options.log });
    started.push(primary);
    const replica = await startRedisServer({
      name: `redis-replica az-${azReplica}`,
      extraArgs: ['--replicaof', '127.0.0.1', String(primary.port)],
      log: options.log,
    });
    started.push(replica);
    await waitUntil('the replica to sync with the primary', async () =>
      (await redisCommand(replica.port, 'INFO replication', '127.0.0.1', 2_000, true)).includes(
        'master_link_status:up',
      ),
    );
    const sentinels: StartedSentinel[] = [];
    for (const [i, az] of sentinelAzs.entries()) {
      const { sentinel, run } = await startSentinel({
        name: `redis-sentinel-${i + 1} az-${az}`,
        az,
        masterName,
        primaryPort: primary.port,
        downAfterMs: options.downAfterMs ?? 1_000,
        failoverTimeoutMs: options.failoverTimeoutMs ?? 10_000,
        log: options.log,
      });
      sentinels.push(sentinel);
      started.push({
        stop: async () => {
          await sentinel.process.stop('SIGTERM', 5_000);
          run.remove();
        },
      });
    }
    // A failover needs every Sentinel to know the replica and a quorum of its peers.
    await waitUntil('the Sentinels to discover the replica and each other', async () => {
      for (const s of sentinels) {
        const replicas = (await sentinelQuery(s.port, 'REPLICAS', masterName)) as unknown[];
        const peers = (await sentinelQuery(s.port, 'SENTINELS', masterName)) as unknown[];
        if (replicas.length < 1 || peers.length < sentinels.length - 1) return false;
      }
      return true;
    });
    const sentinelAddresses = sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
    const routeFor = (server: StartedRedis) =>
      options.proxies?.route(server.name.replace(/\s+/g, '-'), { host: server.host, port: server.port });
    const nodes: RedisNode[] = [
      { server: primary, az: azPrimary, route: await routeFor(primary) },
      { server: replica, az: azReplica, route: await routeFor(replica) },
    ];
    const natMap = Object.fromEntries(
      nodes.flatMap((n) =>
        n.route ? [[`${n.server.host}:${n.server.port}`, { host: n.route.host, port: n.route.port }]] : [],
      ),
    );
    const currentPrimary = async () => {
      for (const s of sentinels) {
        if (!s.process.running) continue;
        const addr = (await sentinelQuery(s.port, 'GET-MASTER-ADDR-BY-NAME', masterName)) as [string, string];
        return { host: addr[0], port: Number(addr[1]) };
      }
      throw new Error('no Sentinel is running');
    };
    return {
      masterName,
      nodes,
      sentinels,
      sentinelAddresses,
      natMap,
      currentPrimary,
      async primaryNode() {
        const { port } = await currentPrimary();
        return nodes.find((n) => n.server.port === port);
      },
      client: () => {
        const client = new Redis({ sentinels: sentinelAddresses, name: masterName });
        // During a failover the client reconnects by itself; errors meanwhile are expected.
        client.on('error', (err: Error) => options.log?.(`[redis-client] ${err.message}`));
        return client;
      },
      stop: stopAll,
      [Symbol.asyncDispose]: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
