/**
 * ElastiCache's stand-in: a Redis primary, a replica and three Sentinels that promote the replica
 * when the primary dies. Clients connect through the Sentinels (ioredis `sentinels` + `name`), so
 * they follow a failover without being told where the new primary is.
 */
import { randomBytes } from 'node:crypto';
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
  /**
   * Settings of primary and replica as `redis-server` flags (`['--client-output-buffer-limit',
   * 'pubsub 33554432 8388608 60']`): the design's parameter group. @default none
   */
  serverArgs?: string[];
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
  proxies?: Pick<ProxyHost, 'route'>;
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

/** A Sentinel's address and run id, chosen before any starts so each can be told of the others. */
interface SentinelSeat {
  port: number;
  myId: string;
}

async function startSentinel(options: {
  name: string;
  az: string;
  masterName: string;
  primaryPort: number;
  replicaPort: number;
  seat: SentinelSeat;
  peers: SentinelSeat[];
  downAfterMs: number;
  failoverTimeoutMs: number;
  log?: LogSink;
}): Promise<{ sentinel: StartedSentinel; run: RunDir }> {
  const { redisServer } = requireRedis();
  const { port } = options.seat;
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
      // Known from the start rather than discovered (hello messages every 2 s, INFO every 10 s):
      // the group is ready at once, and learns of changes the usual way afterwards.
      `sentinel myid ${options.seat.myId}`,
      `sentinel known-replica ${options.masterName} 127.0.0.1 ${options.replicaPort}`,
      ...options.peers.map(
        (p) => `sentinel known-sentinel ${options.masterName} 127.0.0.1 ${p.port} ${p.myId}`,
      ),
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

/** `n` free ports, all different (each probe releases its port, so one could come back twice). */
async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
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
    const primary = await startRedisServer({
      name: `redis-primary az-${azPrimary}`,
      // The default 5 s wait for more replicas before a diskless sync is start-up time lost.
      extraArgs: ['--repl-diskless-sync-delay', '0', ...(options.serverArgs ?? [])],
      log: options.log,
    });
    started.push(primary);
    const ports = await distinctFreePorts(1 + sentinelAzs.length);
    const replicaPort = ports[0]!;
    const seats = ports.slice(1).map((port) => ({ port, myId: randomBytes(20).toString('hex') }));
    // The replica and the Sentinels need only the primary: they start together.
    const startingReplica = startRedisServer({
      name: `redis-replica az-${azReplica}`,
      port: replicaPort,
      extraArgs: [
        '--replicaof',
        '127.0.0.1',
        String(primary.port),
        '--repl-diskless-sync-delay',
        '0',
        ...(options.serverArgs ?? []),
      ],
      log: options.log,
    }).then((r) => {
      started.push(r);
      return r;
    });
    const startingSentinels = sentinelAzs.map((az, i) =>
      startSentinel({
        name: `redis-sentinel-${i + 1} az-${az}`,
        az,
        masterName,
        primaryPort: primary.port,
        replicaPort,
        seat: seats[i]!,
        peers: seats.filter((_, j) => j !== i),
        downAfterMs: options.downAfterMs ?? 1_000,
        failoverTimeoutMs: options.failoverTimeoutMs ?? 10_000,
        log: options.log,
      }).then(({ sentinel, run }) => {
        started.push({
          stop: async () => {
            await sentinel.process.stop('SIGTERM', 5_000);
            run.remove();
          },
        });
        return sentinel;
      }),
    );
    const all = await Promise.allSettled([startingReplica, ...startingSentinels]);
    const failed = all.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const replica = await startingReplica;
    const sentinels = await Promise.all(startingSentinels);
    await waitUntil(
      'the replica to sync with the primary',
      async () =>
        (await redisCommand(replica.port, 'INFO replication', '127.0.0.1', 2_000, true)).includes(
          'master_link_status:up',
        ),
      { intervalMs: 20 },
    );
    // A failover needs every Sentinel to know the replica and a quorum of its peers.
    await waitUntil(
      'the Sentinels to know the replica and each other',
      async () => {
        for (const s of sentinels) {
          const replicas = (await sentinelQuery(s.port, 'REPLICAS', masterName)) as unknown[];
          const peers = (await sentinelQuery(s.port, 'SENTINELS', masterName)) as unknown[];
          if (replicas.length < 1 || peers.length < sentinels.length - 1) return false;
        }
        return true;
      },
      { intervalMs: 20 },
    );
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
