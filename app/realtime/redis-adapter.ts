/**
 * The Socket.IO adapter over Redis, chosen by the kind of client.
 *
 * Redis Cluster (ElastiCache in cluster mode): the sharded adapter (SPUBLISH/SSUBSCRIBE, Redis 7).
 * A classic PUBLISH in a cluster is copied over the cluster bus to every node of every shard;
 * a sharded channel lives on the shard that owns its slot, as ElastiCache recommends. The
 * subscriber must be a Cluster created with `shardedSubscribers` (core/redis.ts), so each
 * SSUBSCRIBE goes to the shard that owns the channel. `static` mode keeps two channels per
 * namespace: every instance hears every broadcast, as with the classic adapter. The default,
 * `dynamic`, would open a channel per public room, and each socket sits in `user:<id>`: one
 * SSUBSCRIBE per connection, 25,000 of them in a reconnect storm, for rooms nobody broadcasts to.
 *
 * A single Redis or a Sentinel-watched primary: the classic adapter, as before.
 */
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { Cluster } from 'ioredis';
import type { RedisClient } from '../core/redis.ts';

export function createRedisAdapter(
  pubClient: RedisClient,
  subClient: RedisClient,
): ReturnType<typeof createAdapter> | ReturnType<typeof createShardedAdapter> {
  if (pubClient instanceof Cluster !== subClient instanceof Cluster) {
    throw new Error('the adapter needs two clients of one kind: both Cluster or both single Redis');
  }
  return subClient instanceof Cluster
    ? createShardedAdapter(pubClient, subClient, { subscriptionMode: 'static' })
    : createAdapter(pubClient, subClient);
}
