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
    expect(await holds.hold('e1', 'A-1', 'u1', 10_000)).toEqual({ result: 'ok', remainingMs: 10_000 });
    expect(await holds.hold('e1', 'A-2', 'u1', 100)).toEqual({ result: 'ok', remainingMs: 100 });
    await new Promise((r) => setTimeout(r, 300));
    // A-2's own hold is over; A-1's is not, and the user still holds it.
    expect(await holds.heldBy('e1', 'u1')).toEqual(['A-1']);
  });

  it('the limit still counts every hold that lives', async () => {
    const holds = new SeatHolds(redis, 2);
    expect((await holds.hold('e2', 'B-1', 'u2', 10_000)).result).toBe('ok');
    expect((await holds.hold('e2', 'B-2', 'u2', 10_000)).result).toBe('ok');
    expect(await holds.hold('e2', 'B-3', 'u2', 100)).toEqual({ result: 'limit' });
  });

  it('holding a seat again does not renew it, and says what is left of it', async () => {
    const holds = new SeatHolds(redis, 4);
    expect(await holds.hold('e3', 'C-1', 'u3', 1_000)).toEqual({ result: 'ok', remainingMs: 1_000 });
    await new Promise((r) => setTimeout(r, 300));
    const again = await holds.hold('e3', 'C-1', 'u3', 60_000);
    expect(again.result).toBe('ok');
    // What is left of the first hold, not a new minute: the answer's heldUntil must be the lock's.
    expect(again.result === 'ok' && again.remainingMs).toBeLessThanOrEqual(750);
  });
});
