/**
 * Each per-user limit at its boundary (N allowed, N+1 refused) against real Redis and PostgreSQL,
 * with two instances racing for the last slot: the check is atomic where it is made (the HOLD
 * script, the reservation transaction), not in the code around it.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUsersInBulk } from './auth/bulk-users.ts';
import { createTokenSigner } from './auth/tokens.ts';
import { keys } from './core/keys.ts';
import type { RedisClient } from './core/redis.ts';
import { createRedis } from './core/redis.ts';
import { seedDemoEvent } from './sales/seed.ts';
import type { StartedTiketiServer } from './server.ts';
import {
  api,
  type DataTier,
  startDataTier,
  startInstance,
  TEST_SECRET,
  testPool,
} from './test-support/app-harness.ts';

const LIMITS = { holdsPerUserPerEvent: 4, reservationsPerUserPerEvent: 2, seatsPerUserPerEvent: 3 };

describe('per-user limits at their boundaries, two instances racing', () => {
  let tier: DataTier;
  let a: StartedTiketiServer;
  let b: StartedTiketiServer;
  let redis: RedisClient;
  let db: ReturnType<typeof testPool>;
  let seatIds: string[];
  let users: { userId: string; token: string }[];
  let next = 0;
  const freshUser = () => users[next++]!;

  const join = async (token: string) => {
    await api(a.url, 'POST', '/api/events/limits/queue', { token });
    for (let i = 0; i < 200; i++) {
      if ((await api(b.url, 'GET', '/api/events/limits/queue/me', { token })).body.state === 'admitted')
        return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('not admitted within 5 s');
  };
  const hold = (on: StartedTiketiServer, token: string, seatId: string) =>
    api(on.url, 'POST', `/api/events/limits/seats/${seatId}/hold`, { token });
  const reserve = (on: StartedTiketiServer, token: string, seats: string[]) =>
    api(on.url, 'POST', '/api/reservations', { token, body: { eventId: 'limits', seatIds: seats } });
  /** Seats no test took yet. */
  let seatCursor = 0;
  const takeSeats = (n: number) => {
    seatCursor += n;
    return seatIds.slice(seatCursor - n, seatCursor);
  };

  beforeAll(async () => {
    tier = await startDataTier();
    const env = { ADMISSION_PER_SECOND: '5000', LIMITS: JSON.stringify(LIMITS) };
    [a, b] = await Promise.all([
      startInstance(tier, { ...env, INSTANCE_ID: 'app-a' }),
      startInstance(tier, { ...env, INSTANCE_ID: 'app-b' }),
    ]);
    db = testPool(tier.postgres.url);
    redis = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'test');
    ({ seatIds } = await seedDemoEvent(db, redis, { eventId: 'limits', seats: 200, openSales: true }));
    users = await createUsersInBulk(db, redis, createTokenSigner(TEST_SECRET), {
      count: 20,
      emailPrefix: 'limits',
      password: 'rehearsal-pass',
      sessionTtlSeconds: 3_600,
    });
  });
  afterAll(async () => {
    redis?.disconnect();
    await db?.end();
    await Promise.allSettled([a?.close(), b?.close()]);
    await tier?.stop();
  });

  it('holds: N seats held, the N+1th refused with hold_limit; a release frees a slot', async () => {
    const user = freshUser();
    await join(user.token);
    const seats = takeSeats(LIMITS.holdsPerUserPerEvent + 1);
    for (const seat of seats.slice(0, -1)) expect((await hold(a, user.token, seat)).status).toBe(201);
    const refused = await hold(b, user.token, seats.at(-1)!);
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('hold_limit');
    expect(await redis.get(keys.seatLock('limits', seats.at(-1)!))).toBeNull();
    await api(a.url, 'DELETE', `/api/events/limits/seats/${seats[0]}/hold`, { token: user.token });
    expect((await hold(b, user.token, seats.at(-1)!)).status).toBe(201);
  });

  it('holds: two instances racing for the last slot, exactly one wins', async () => {
    for (let round = 0; round < 3; round++) {
      const user = freshUser();
      await join(user.token);
      const seats = takeSeats(LIMITS.holdsPerUserPerEvent + 1);
      for (const seat of seats.slice(0, -2)) expect((await hold(a, user.token, seat)).status).toBe(201);
      const [one, two] = await Promise.all([
        hold(a, user.token, seats.at(-2)!),
        hold(b, user.token, seats.at(-1)!),
      ]);
      expect([one.status, two.status].sort()).toEqual([201, 409]);
      const held = await redis.mget(seats.map((s) => keys.seatLock('limits', s)));
      expect(held.filter((h) => h === user.userId)).toHaveLength(LIMITS.holdsPerUserPerEvent);
    }
  });

  it('holding a seat again does not renew it', async () => {
    const user = freshUser();
    await join(user.token);
    const [seat] = takeSeats(1);
    expect((await hold(a, user.token, seat!)).status).toBe(201);
    await new Promise((r) => setTimeout(r, 300));
    const before = await redis.pttl(keys.seatLock('limits', seat!));
    expect((await hold(b, user.token, seat!)).status).toBe(201);
    expect(await redis.pttl(keys.seatLock('limits', seat!))).toBeLessThanOrEqual(before);
  });

  it('reservations: N live reservations, the N+1th refused, two instances racing for the last', async () => {
    const user = freshUser();
    await join(user.token);
    const seats = takeSeats(3);
    for (const seat of seats) expect((await hold(a, user.token, seat)).status).toBe(201);
    expect((await reserve(a, user.token, [seats[0]!])).status).toBe(201);
    const [one, two] = await Promise.all([
      reserve(a, user.token, [seats[1]!]),
      reserve(b, user.token, [seats[2]!]),
    ]);
    expect([one.status, two.status].sort()).toEqual([201, 409]);
    expect([one, two].find((r) => r.status === 409)!.body.error.code).toBe('reservation_limit');
    const { rows } = await db.query(
      "SELECT count(*)::int AS n FROM reservations WHERE user_id = $1 AND status = 'pending'",
      [user.userId],
    );
    expect(rows[0].n).toBe(LIMITS.reservationsPerUserPerEvent);
  });

  it('seats: N seats reserved in all, one more refused with seat_limit', async () => {
    const user = freshUser();
    await join(user.token);
    const seats = takeSeats(4);
    for (const seat of seats) expect((await hold(a, user.token, seat)).status).toBe(201);
    expect((await reserve(a, user.token, seats.slice(0, 2))).status).toBe(201);
    const over = await reserve(b, user.token, seats.slice(2, 4));
    expect(over.status).toBe(409);
    expect(over.body.error).toMatchObject({ code: 'seat_limit', field: 'seatIds' });
    expect((await reserve(b, user.token, seats.slice(2, 3))).status).toBe(201);
  });

  it('payment re-checks admission; a buyer cannot queue again in this drop', async () => {
    const user = freshUser();
    await join(user.token);
    const [seat, other] = takeSeats(2);
    expect((await hold(a, user.token, seat!)).status).toBe(201);
    const reservation = await reserve(a, user.token, [seat!]);
    expect(reservation.status).toBe(201);
    const pay = () =>
      api(b.url, 'POST', `/api/reservations/${reservation.body.reservationId}/payments`, {
        token: user.token,
        body: { method: 'card' },
      });
    // Leaving gives the admission up: paying is refused, and nothing is sold.
    expect((await api(a.url, 'DELETE', '/api/events/limits/queue', { token: user.token })).status).toBe(200);
    const refused = await pay();
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');
    expect(await redis.sismember(keys.sold('limits'), seat!)).toBe(0);

    await join(user.token);
    expect((await pay()).status).toBe(201);
    const again = await api(a.url, 'POST', '/api/events/limits/queue', { token: user.token });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('already_purchased');
    // Out of the active set too: no more holds in this drop.
    expect((await hold(b, user.token, other!)).status).toBe(403);
  });
});
