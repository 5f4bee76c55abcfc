/**
 * Rate limits shared by every instance: counters in Redis (rate-limiter-flexible's atomic
 * INCR-with-TTL script, one key per counter, so any key is safe in a Redis Cluster). The limits
 * themselves are the design's (infra/topology.ts `limits.rate`).
 */
import { createHash } from 'node:crypto';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Limits } from '../../infra/topology.ts';
import { RetryLaterError } from '../core/errors.ts';
import type { RedisClient } from '../core/redis.ts';

export type RateLimitName = keyof Limits['rate'];

/** What each limit is called in a refusal's message. */
const WHAT: Record<RateLimitName, string> = {
  registerPerAddress: 'registrations from your address',
  loginPerAddress: 'sign-in attempts from your address',
  loginPerEmail: 'sign-in attempts for this account',
  queueJoinPerUser: 'queue joins',
  holdPerUser: 'seat holds',
  reservePerUser: 'reservations',
  payPerUser: 'payments',
  socketConnectPerUser: 'live connections opened',
  socketRefusedPerAddress: 'refused connections from your address',
};

export class RateLimits {
  private readonly limiters: Record<RateLimitName, RateLimiterRedis>;

  constructor(redis: RedisClient, rates: Limits['rate']) {
    const entries = Object.entries(rates).map(([name, rate]) => [
      name,
      new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `rate:${name}`,
        points: rate.points,
        duration: rate.windowSeconds,
      }),
    ]);
    this.limiters = Object.fromEntries(entries) as Record<RateLimitName, RateLimiterRedis>;
  }

  /** Counts one request against `name` for `key`; past the limit, a 429 with when to retry. */
  async consume(name: RateLimitName, key: string): Promise<void> {
    try {
      await this.limiters[name].consume(key);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      const { points, duration } = this.limiters[name];
      const retryAfterSeconds = Math.max(1, Math.ceil(err.msBeforeNext / 1_000));
      throw new RetryLaterError(
        429,
        'rate_limited',
        `too many ${WHAT[name]} (at most ${points} per ${duration} s); retry in ${retryAfterSeconds} s`,
        retryAfterSeconds,
      );
    }
  }
}

/** A key that names an account by email without keeping the address itself in Redis. */
export const emailKey = (email: string): string =>
  createHash('sha256').update(email).digest('base64url').slice(0, 22);
