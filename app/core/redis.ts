/**
 * ioredis clients that follow a failover by themselves and never give up reconnecting: a single
 * Redis (`url`), a Sentinel-watched primary (`sentinel`, the emulator's ElastiCache stand-in) or
 * Redis Cluster (`cluster`, ElastiCache in cluster mode).
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import type { RedisSettings } from '../config.ts';

/** What the app's modules take: any of the clients `createRedis` returns. */
export type RedisClient = Redis | Cluster;

export interface ClientOptions extends RedisOptions {
  /**
   * Cluster only: one subscriber connection per shard primary, so `SSUBSCRIBE` reaches the shard
   * that owns each channel. Needed by the sharded Socket.IO adapter's subscriber; a waste of
   * connections elsewhere. @default false
   */
  shardedSubscribers?: boolean;
}

/**
 * Reconnect backoff (50 ms more per attempt, at most 1 s) divided by `speed()`: under a rehearsal
 * clock running N× faster, the app retries N× sooner, so a failover costs it the same simulated
 * time as in production.
 */
export function createRedis(
  settings: Exclude<RedisSettings, { kind: 'cluster' }>,
  log: Logger,
  role: string,
  extra?: ClientOptions,
  speed?: () => number,
): Redis;
export function createRedis(
  settings: RedisSettings,
  log: Logger,
  role: string,
  extra?: ClientOptions,
  speed?: () => number,
): RedisClient;
export function createRedis(
  settings: RedisSettings,
  log: Logger,
  role: string,
  extra: ClientOptions = {},
  speed: () => number = () => 1,
): RedisClient {
  const { shardedSubscribers = false, ...connection } = extra;
  const backoff = (times: number) => Math.max(5, Math.min(50 * times, 1_000) / speed());
  const common: RedisOptions = {
    // Commands wait (bounded) through a failover instead of failing at once.
    maxRetriesPerRequest: 3,
    retryStrategy: backoff,
    reconnectOnError: (err) => err.message.startsWith('READONLY'),
    enableAutoPipelining: true,
    // ioredis 5 sends its ready check (INFO) only after an asynchronous CLIENT SETINFO: a
    // SUBSCRIBE issued in that gap (the Socket.IO adapter's, as a namespace is created) puts the
    // connection in subscriber mode first, the ready check fails, and the connection drops and
    // starts over (redis/ioredis#2037, fixed in 6.0). Seen here as "Connection in subscriber mode"
    // on an instance's adapter connection at start, with admission notices lost on that instance.
    disableClientInfo: true,
    ...connection,
  };
  let client: RedisClient;
  if (settings.kind === 'cluster') {
    // Node connections do not reconnect on their own in a cluster (the slot map decides where
    // commands go), so the single-node retry and READONLY handling do not apply to them.
    const {
      retryStrategy: _retry,
      reconnectOnError: _readOnly,
      enableAutoPipelining,
      ...redisOptions
    } = common;
    const options: ClusterOptions = {
      enableAutoPipelining,
      // Every node unreachable: start over from the startup nodes with the same backoff. A failed
      // shard primary is handled by ioredis itself: MOVED after the replica's promotion refreshes
      // the slot map, and commands are retried (retryDelayOnFailover, maxRedirections).
      clusterRetryStrategy: backoff,
      shardedSubscribers,
      // ElastiCache with TLS: connect by the name the nodes announce, or the certificate check
      // fails (ioredis README, "Special note: AWS ElastiCache Clusters with TLS").
      dnsLookup: (address, callback) => callback(null, address),
      redisOptions: {
        ...redisOptions,
        ...(settings.tls ? { tls: {} } : {}),
        ...(settings.password ? { password: settings.password } : {}),
      },
    };
    client = new Cluster(settings.nodes, options);
  } else if (settings.kind === 'sentinel') {
    client = new Redis({
      ...common,
      sentinels: settings.sentinels,
      name: settings.masterName,
      natMap: settings.natMap,
      sentinelRetryStrategy: (times) => Math.max(5, Math.min(100 * times, 1_000) / speed()),
    });
  } else {
    client = new Redis(settings.url, common);
  }
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
