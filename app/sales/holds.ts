/**
 * Seat holds: `SET seat:<eventId>:<seatId>:locked <userId> NX EX <hold>` (design: 300 s). A held
 * or sold seat refuses another holder; only the holder releases. A user holds at most
 * `holdsPerUserPerEvent` seats of an event at once, counted inside the script (two requests
 * racing on two instances cannot both take the last slot), and holding a seat again does not
 * renew it: a hold lasts its time once, so nobody keeps a seat by asking again.
 */
import { keys } from '../core/keys.ts';
import type { RedisClient } from '../core/redis.ts';

// KEYS: the seat's lock, the sold set, the user's holds. ARGV: user, hold ms, seat, limit, the
// lock key's prefix and suffix (the user's other locks share the event's hash tag: one slot).
// The index of the user's holds lives as long as its longest hold: a later, shorter hold (the
// hold time follows the clock's speed in a rehearsal) must not expire it with earlier ones still
// held — they would vanish from the user's state and from the per-user limit's count.
const HOLD = `
if redis.call('SISMEMBER', KEYS[2], ARGV[3]) == 1 then return 'sold' end
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return {'ok', redis.call('PTTL', KEYS[1])} end
if holder then return 'held' end
local count = 0
for _, seat in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if redis.call('GET', ARGV[5] .. seat .. ARGV[6]) == ARGV[1] then
    count = count + 1
  else
    redis.call('SREM', KEYS[3], seat)
  end
end
if count >= tonumber(ARGV[4]) then return 'limit' end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
return {'ok', tonumber(ARGV[2])}
`;

const RELEASE = `
local holder = redis.call('GET', KEYS[1])
if not holder then return 'not_held' end
if holder ~= ARGV[1] then return 'not_yours' end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
return 'ok'
`;

/**
 * A hold taken (or already the user's: `remainingMs` is then what is left of it — holding again
 * does not renew it, so the answer must not promise a new full hold), or why not.
 */
export type HoldResult =
  | { result: 'ok'; remainingMs: number }
  | { result: 'held' }
  | { result: 'sold' }
  | { result: 'limit' };
export type ReleaseResult = 'ok' | 'not_held' | 'not_yours';

export class SeatHolds {
  constructor(
    private readonly redis: RedisClient,
    /** Seats one user may hold at once in one event. */
    private readonly holdsPerUser: number,
  ) {}

  async hold(eventId: string, seatId: string, userId: string, holdMs: number): Promise<HoldResult> {
    const [lockPrefix, lockSuffix] = keys.seatLock(eventId, '\0').split('\0') as [string, string];
    const reply = (await this.redis.eval(
      HOLD,
      3,
      keys.seatLock(eventId, seatId),
      keys.sold(eventId),
      keys.userHolds(eventId, userId),
      userId,
      Math.max(1, Math.round(holdMs)),
      seatId,
      this.holdsPerUser,
      lockPrefix,
      lockSuffix,
    )) as [string, number] | 'held' | 'sold' | 'limit';
    if (Array.isArray(reply)) return { result: 'ok', remainingMs: Number(reply[1]) };
    return { result: reply };
  }

  async release(eventId: string, seatId: string, userId: string): Promise<ReleaseResult> {
    return (await this.redis.eval(
      RELEASE,
      2,
      keys.seatLock(eventId, seatId),
      keys.userHolds(eventId, userId),
      userId,
      seatId,
    )) as ReleaseResult;
  }

  /** Seats the user holds now (the index is pruned of holds that expired). */
  async heldBy(eventId: string, userId: string): Promise<string[]> {
    const candidates = await this.redis.smembers(keys.userHolds(eventId, userId));
    if (candidates.length === 0) return [];
    const holders = await this.redis.mget(candidates.map((s) => keys.seatLock(eventId, s)));
    const held = candidates.filter((_, i) => holders[i] === userId).sort();
    const stale = candidates.filter((_, i) => holders[i] !== userId);
    if (stale.length > 0) await this.redis.srem(keys.userHolds(eventId, userId), ...stale);
    return held;
  }

  /** Holders of many seats, in order (null = free). */
  async holders(eventId: string, seatIds: string[]): Promise<(string | null)[]> {
    const out: (string | null)[] = [];
    for (let i = 0; i < seatIds.length; i += 1_000) {
      const chunk = seatIds.slice(i, i + 1_000);
      out.push(...(await this.redis.mget(chunk.map((s) => keys.seatLock(eventId, s)))));
    }
    return out;
  }

  async sold(eventId: string): Promise<Set<string>> {
    return new Set(await this.redis.smembers(keys.sold(eventId)));
  }

  /** After a sale: the seats are sold for good and their locks go. */
  async markSold(eventId: string, userId: string, seatIds: string[]): Promise<void> {
    await this.redis
      .multi()
      .sadd(keys.sold(eventId), ...seatIds)
      .del(...seatIds.map((s) => keys.seatLock(eventId, s)))
      .srem(keys.userHolds(eventId, userId), ...seatIds)
      .exec();
  }
}
