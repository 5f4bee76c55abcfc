import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedRedis, startRedisServer } from '../../servers/redis-server.ts';
import { SeatHolds } from './holds.ts';

describe('seat holds on a real Redis', () => {
  let server: StartedRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = await startRedisServer();
    redis = new Redis(server.url);
  });

  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('a later, shorter hold does not take an earlier, longer one out of the user’s holds', async () => {
    // A rehearsal's hold time follows the clock's speed: 30 s of wall time at 10×, 5 s at 60×.
    const holds = new SeatHolds(redis, 4);
    expect(await holds.hold('e1', 'A-1', 'u1', 10_000)).toBe('ok');
    expect(await holds.hold('e1', 'A-2', 'u1', 100)).toBe('ok');
    await new Promise((r) => setTimeout(r, 300));
    // A-2's own hold is over; A-1's is not, and the user still holds it.
    expect(await holds.heldBy('e1', 'u1')).toEqual(['A-1']);
  });

  it('the limit still counts every hold that lives', async () => {
    const holds = new SeatHolds(redis, 2);
    expect(await holds.hold('e2', 'B-1', 'u2', 10_000)).toBe('ok');
    expect(await holds.hold('e2', 'B-2', 'u2', 10_000)).toBe('ok');
    expect(await holds.hold('e2', 'B-3', 'u2', 100)).toBe('limit');
  });
});
