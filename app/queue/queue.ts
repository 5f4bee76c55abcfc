/**
 * The waiting queue (ARCHITECTURE.md): `queue:{<eventId>}` is a sorted set scored by join time,
 * position is ZRANK + 1, admitted users live in `active:{<eventId>}` until their window ends.
 * Every script and MULTI here touches one event's keys only, which share a cluster slot.
 */
import { keys } from '../core/keys.ts';
import type { RedisClient } from '../core/redis.ts';

export type QueueStatus =
  | { state: 'queued'; position: number; queueSize: number }
  | { state: 'admitted'; queueSize: number; admittedUntil: number }
  | { state: 'none'; queueSize: number }
  /** Bought in this drop: one queue place per user per event per drop. */
  | { state: 'purchased'; queueSize: number };

// Joining keeps the first place: NX never moves an existing member. Admitted users stay admitted;
// buyers do not queue again. Only the event's own keys (one hash slot): `active-events` is added
// to beside the script.
const JOIN = `
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then
  return {'purchased', redis.call('ZCARD', KEYS[1])}
end
local expiry = redis.call('ZSCORE', KEYS[2], ARGV[1])
if expiry and tonumber(expiry) > tonumber(ARGV[2]) then
  return {'admitted', redis.call('ZCARD', KEYS[1]), expiry}
end
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
return {'queued', redis.call('ZCARD', KEYS[1]), redis.call('ZRANK', KEYS[1], ARGV[1])}
`;

const STATUS = `
local size = redis.call('ZCARD', KEYS[1])
local rank = redis.call('ZRANK', KEYS[1], ARGV[1])
if rank then return {'queued', size, rank} end
local expiry = redis.call('ZSCORE', KEYS[2], ARGV[1])
if expiry and tonumber(expiry) > tonumber(ARGV[2]) then return {'admitted', size, expiry} end
return {'none', size}
`;

/** Ranks of many users in one round trip: queue updates cost one call per tick, not one per user. */
const RANKS = `
local out = {redis.call('ZCARD', KEYS[1])}
for i = 1, #ARGV do
  local rank = redis.call('ZRANK', KEYS[1], ARGV[i])
  out[i + 1] = rank and (rank + 1) or 0
end
return out
`;

function toStatus(reply: [string, number, string | number | undefined]): QueueStatus {
  const [state, queueSize, extra] = reply;
  if (state === 'queued') return { state, queueSize, position: Number(extra) + 1 };
  if (state === 'admitted') return { state, queueSize, admittedUntil: Number(extra) };
  if (state === 'purchased') return { state, queueSize };
  return { state: 'none', queueSize };
}

export class WaitingQueue {
  constructor(private readonly redis: RedisClient) {}

  async join(eventId: string, userId: string, nowMs = Date.now()): Promise<QueueStatus> {
    // `active-events` hashes to a slot of its own, so it cannot be in the script. Added in the
    // same round trip and awaited with it: once a join returns, the admitter and the queue
    // monitor see the event. (Adding an event that already has a queue changes nothing.)
    const [, reply] = await Promise.all([
      this.redis.sadd(keys.activeEvents, eventId),
      this.redis.eval(
        JOIN,
        3,
        keys.queue(eventId),
        keys.activeUntil(eventId),
        keys.purchased(eventId),
        userId,
        nowMs,
      ) as Promise<[string, number, string | number]>,
    ]);
    return toStatus(reply);
  }

  async status(eventId: string, userId: string, nowMs = Date.now()): Promise<QueueStatus> {
    const reply = (await this.redis.eval(
      STATUS,
      2,
      keys.queue(eventId),
      keys.activeUntil(eventId),
      userId,
      nowMs,
    )) as [string, number, string | number | undefined];
    return toStatus(reply);
  }

  /** Leaves the queue (and gives up an admission). Returns whether the user was in either. */
  async leave(eventId: string, userId: string): Promise<boolean> {
    const [[, queued], [, admitted]] = (await this.redis
      .multi()
      .zrem(keys.queue(eventId), userId)
      .zrem(keys.activeUntil(eventId), userId)
      .srem(keys.active(eventId), userId)
      .exec()) as [[null, number], [null, number], [null, number]];
    return queued + admitted > 0;
  }

  /** Positions (1-based, 0 = not queued) of many users, and the queue size. */
  async positions(eventId: string, userIds: string[]): Promise<{ queueSize: number; positions: number[] }> {
    const reply = (await this.redis.eval(RANKS, 1, keys.queue(eventId), ...userIds)) as number[];
    return { queueSize: reply[0] ?? 0, positions: reply.slice(1) };
  }

  async isAdmitted(eventId: string, userId: string, nowMs = Date.now()): Promise<boolean> {
    const until = await this.redis.zscore(keys.activeUntil(eventId), userId);
    return until !== null && Number(until) > nowMs;
  }

  /** Ends a user's shopping (after payment): they leave the active set and do not queue again. */
  async finishShopping(eventId: string, userId: string): Promise<void> {
    await this.redis
      .multi()
      .sadd(keys.purchased(eventId), userId)
      .srem(keys.active(eventId), userId)
      .zrem(keys.activeUntil(eventId), userId)
      .exec();
  }
}
