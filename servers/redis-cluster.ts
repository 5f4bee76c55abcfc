/**
 * A real Redis Cluster on free loopback ports, standing in for ElastiCache in cluster mode:
 * `redis-server --cluster-enabled yes` nodes, slots spread evenly over the primaries, one replica
 * per primary by default. Formed with CLUSTER ADDSLOTSRANGE / MEET / REPLICATE on the nodes
 * themselves (what `redis-cli --cluster create` sends), so only `redis-server` is needed.
 */

import { freePort } from './ports.ts';
import type { LogSink } from './process.ts';
import { redisCommand, type StartedRedis, startRedisServer } from './redis-server.ts';
import { waitUntil } from './wait-until.ts';

const SLOTS = 16_384;

/** How a client reaches the cluster: the app's `RedisSettings` for cluster mode. */
export interface RedisClusterSettings {
  kind: 'cluster';
  /** Startup nodes; the client discovers the rest. */
  nodes: { host: string; port: number }[];
  tls: boolean;
}

export interface RedisClusterOptions {
  /** @default 'redis-cluster' */
  name?: string;
  /** Shards, each with a primary. Redis Cluster needs at least 3 to vote a failover. @default 3 */
  primaries?: number;
  /** @default 1 */
  replicasPerPrimary?: number;
  /** cluster-node-timeout: how long a node may not answer before it is failing. @default 2000 */
  nodeTimeoutMs?: number;
  /** How long the cluster may take to reach `cluster_state:ok`. @default 30000 */
  readyTimeoutMs?: number;
  log?: LogSink;
}

export interface ClusterNodeInfo {
  readonly server: StartedRedis;
  readonly id: string;
  readonly role: 'primary' | 'replica';
  /** The slots a primary serves, `[first, last]`; a replica's are its primary's. */
  readonly slots: readonly [number, number];
}

export interface StartedRedisCluster extends AsyncDisposable {
  readonly nodes: readonly ClusterNodeInfo[];
  /** What the app's config takes (`REDIS_CLUSTER_NODES`): every node as a startup node. */
  readonly settings: RedisClusterSettings;
  /** `host:port,…` for REDIS_CLUSTER_NODES. */
  readonly startupNodes: string;
  /** The primary that serves a slot. */
  primaryForSlot(slot: number): ClusterNodeInfo;
  stop(): Promise<void>;
}

/** Inline command to one node; the bulk reply (CLUSTER INFO, NODES, MYID) or the status line. */
async function nodeCommand(port: number, command: string, bulk = false): Promise<string> {
  const reply = await redisCommand(port, command, '127.0.0.1', 2_000, bulk);
  if (reply.startsWith('-')) throw new Error(`redis on port ${port}: ${command} failed: ${reply.slice(1)}`);
  return reply;
}

/** `[first, last]` slots of each of `count` primaries, as even as 16384 divides. */
function slotRanges(count: number): [number, number][] {
  return Array.from({ length: count }, (_, i) => [
    Math.floor((i * SLOTS) / count),
    Math.floor(((i + 1) * SLOTS) / count) - 1,
  ]);
}

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<StartedRedisCluster> {
  const name = options.name ?? 'redis-cluster';
  const primaries = options.primaries ?? 3;
  const replicasPerPrimary = options.replicasPerPrimary ?? 1;
  if (!Number.isInteger(primaries) || primaries < 3) {
    throw new Error(
      `primaries must be a whole number ≥ 3 (got ${primaries}): Redis Cluster needs a majority`,
    );
  }
  if (!Number.isInteger(replicasPerPrimary) || replicasPerPrimary < 0) {
    throw new Error(`replicasPerPrimary must be a whole number ≥ 0 (got ${replicasPerPrimary})`);
  }
  const total = primaries * (1 + replicasPerPrimary);
  // Client port and cluster-bus port per node, all distinct. The bus port is set explicitly
  // (cluster-port) rather than left at port + 10000, which may fall in the ephemeral range.
  const taken = new Set<number>();
  const pick = async () => {
    for (;;) {
      const port = await freePort();
      if (!taken.has(port)) {
        taken.add(port);
        return port;
      }
    }
  };
  const ports: { port: number; busPort: number }[] = [];
  for (let i = 0; i < total; i++) ports.push({ port: await pick(), busPort: await pick() });

  const servers: StartedRedis[] = [];
  const stop = async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
  };
  try {
    const started = await Promise.allSettled(
      ports.map(({ port, busPort }, i) =>
        startRedisServer({
          name: `${name}-${i < primaries ? 'primary' : 'replica'}-${i + 1}`,
          port,
          log: options.log,
          extraArgs: [
            '--cluster-enabled', 'yes',
            // Relative to the node's run folder (--dir), removed with it.
            '--cluster-config-file', `nodes-${port}.conf`,
            '--cluster-port', String(busPort),
            '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 2_000),
          ], // biome-ignore format: flag/value pairs read best one per pair
        }),
      ),
    );
    for (const result of started) if (result.status === 'fulfilled') servers.push(result.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;

    const ids = await Promise.all(servers.map((s) => nodeCommand(s.port, 'CLUSTER MYID', true)));
    const ranges = slotRanges(primaries);
    for (const [i, [first, last]] of ranges.entries()) {
      await nodeCommand(servers[i]!.port, `CLUSTER ADDSLOTSRANGE ${first} ${last}`);
    }
    for (const [i, { port, busPort }] of ports.entries()) {
      if (i > 0) await nodeCommand(servers[0]!.port, `CLUSTER MEET 127.0.0.1 ${port} ${busPort}`);
    }
    const knowsEveryone = async (port: number) =>
      (await nodeCommand(port, 'CLUSTER INFO', true)).includes(`cluster_known_nodes:${total}\r\n`);
    await waitUntil(
      `every node of ${name} to know the other ${total - 1}`,
      async () => (await Promise.all(servers.map((s) => knowsEveryone(s.port)))).every(Boolean),
      { timeoutMs: options.readyTimeoutMs ?? 30_000 },
    );
    // Replica j of primary p is node primaries + p * replicasPerPrimary + j.
    const nodes: ClusterNodeInfo[] = servers.map((server, i) => {
      const primary = i < primaries ? i : Math.floor((i - primaries) / replicasPerPrimary);
      return {
        server,
        id: ids[i]!,
        role: i < primaries ? 'primary' : 'replica',
        slots: ranges[primary]!,
      };
    });
    for (const [i, node] of nodes.entries()) {
      if (node.role === 'replica') {
        const primary = Math.floor((i - primaries) / replicasPerPrimary);
        await nodeCommand(node.server.port, `CLUSTER REPLICATE ${ids[primary]}`);
      }
    }
    // Ready when every node serves every slot and sees every replica attached: a client that
    // asks any node gets the whole, final map.
    await waitUntil(
      `${name} to reach cluster_state:ok on every node`,
      async () => {
        for (const s of servers) {
          const info = await nodeCommand(s.port, 'CLUSTER INFO', true);
          if (!info.includes('cluster_state:ok\r\n') || !info.includes(`cluster_slots_ok:${SLOTS}\r\n`))
            return false;
          const table = await nodeCommand(s.port, 'CLUSTER NODES', true);
          const replicaLines = table.split('\n').filter((line) => /\bslave\b/.test(line));
          if (replicaLines.length !== total - primaries) return false;
        }
        return true;
      },
      { timeoutMs: options.readyTimeoutMs ?? 30_000 },
    );
    const settings = {
      kind: 'cluster' as const,
      nodes: servers.map((s) => ({ host: s.host, port: s.port })),
      tls: false,
    };
    return {
      nodes,
      settings,
      startupNodes: settings.nodes.map((n) => `${n.host}:${n.port}`).join(','),
      primaryForSlot(slot) {
        const node = nodes.find((n) => n.role === 'primary' && slot >= n.slots[0] && slot <= n.slots[1]);
        if (!node) throw new Error(`slot ${slot} is outside 0–${SLOTS - 1}`);
        return node;
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
