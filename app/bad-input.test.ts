import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUsersInBulk } from './auth/bulk-users.ts';
import { createTokenSigner } from './auth/tokens.ts';
import { createRedis } from './core/redis.ts';
import { openSales, seedDemoEvent } from './sales/seed.ts';
import type { StartedTiketiServer } from './server.ts';
import {
  api,
  type DataTier,
  startDataTier,
  startInstance,
  TEST_SECRET,
  testPool,
} from './test-support/app-harness.ts';

describe('bad input gets a clear 4xx and writes nothing', () => {
  let tier: DataTier;
  let app: StartedTiketiServer;
  let alice: { userId: string; token: string };
  let bob: { userId: string; token: string };
  let aliceReservation: string;
  let seatIds: string[];
  const db = () => testPool(tier.postgres.url);

  beforeAll(async () => {
    tier = await startDataTier();
    app = await startInstance(tier, { ADMISSION_PER_SECOND: '1000', MAX_BODY: '4kb' });
    const pool = db();
    const redis = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'test');
    ({ seatIds } = await seedDemoEvent(pool, redis, { eventId: 'show', seats: 20 }));
    await openSales(pool, redis, 'show');
    const created = await createUsersInBulk(pool, redis, createTokenSigner(TEST_SECRET), {
      count: 2,
      emailPrefix: 'bad',
      password: 'rehearsal-pass',
      sessionTtlSeconds: 3_600,
    });
    [alice, bob] = [created[0]!, created[1]!];
    await api(app.url, 'POST', '/api/events/show/queue', { token: alice.token });
    while (
      (await api(app.url, 'GET', '/api/events/show/queue/me', { token: alice.token })).body.state !==
      'admitted'
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await api(app.url, 'POST', `/api/events/show/seats/${seatIds[0]}/hold`, { token: alice.token });
    aliceReservation = (
      await api(app.url, 'POST', '/api/reservations', {
        token: alice.token,
        body: { eventId: 'show', seatIds: [seatIds[0]] },
      })
    ).body.reservationId;
    redis.disconnect();
    await pool.end();
  });
  afterAll(async () => {
    await app?.close();
    await tier?.stop();
  });

  async function snapshot() {
    const pool = db();
    const redis = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'test');
    try {
      const { rows } = await pool.query(
        'SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM reservations)::int AS reservations, (SELECT count(*) FROM payments)::int AS payments',
      );
      return {
        ...rows[0],
        redisKeys: (await redis.keys('*'))
          // Rate-limit counters count requests, bad ones included: that is their job, not state.
          .filter((k) => !k.startsWith('admission:') && !k.startsWith('event') && !k.startsWith('rate:'))
          .sort(),
      };
    } finally {
      redis.disconnect();
      await pool.end();
    }
  }

  const forged = () => createTokenSigner('someone-elses-secret-key').sign(alice.userId, 'any-session', 3_600);
  const expired = () =>
    createTokenSigner(TEST_SECRET).sign(alice.userId, 'any-session', 60, Date.now() - 3_600_000);
  const cases: [string, () => Parameters<typeof api>, number, string, string?][] = [
    [
      'malformed JSON',
      () => [app.url, 'POST', '/api/auth/register', { rawBody: '{"email": "x@y.z",' }],
      400,
      'invalid_json',
    ],
    [
      'a JSON array body',
      () => [app.url, 'POST', '/api/auth/login', { rawBody: '[1,2]' }],
      400,
      'invalid_body',
    ],
    [
      'a wrong type',
      () => [
        app.url,
        'POST',
        '/api/auth/register',
        { body: { email: 'a@b.co', password: 12345678, name: 'A' } },
      ],
      400,
      'validation_failed',
      'password',
    ],
    [
      'an unknown field',
      () => [
        app.url,
        'POST',
        '/api/auth/register',
        { body: { email: 'a@b.co', password: '12345678', name: 'A', admin: true } },
      ],
      400,
      'validation_failed',
      'admin',
    ],
    [
      'a bad email',
      () => [
        app.url,
        'POST',
        '/api/auth/register',
        { body: { email: 'not-an-email', password: '12345678', name: 'A' } },
      ],
      400,
      'validation_failed',
      'email',
    ],
    [
      'an oversized body',
      () => [
        app.url,
        'POST',
        '/api/auth/register',
        { body: { email: 'a@b.co', password: 'x'.repeat(10_000), name: 'A' } },
      ],
      413,
      'payload_too_large',
    ],
    [
      'SQL in an email',
      () => [app.url, 'POST', '/api/auth/login', { body: { email: "x@y.z' OR '1'='1", password: 'p' } }],
      400,
      'validation_failed',
      'email',
    ],
    [
      'SQL in an event id',
      () => [app.url, 'POST', "/api/events/show';DROP TABLE users;--/queue", { token: alice.token }],
      400,
      'validation_failed',
      'eventId',
    ],
    [
      'an unknown event',
      () => [app.url, 'POST', '/api/events/nope/queue', { token: bob.token }],
      404,
      'not_found',
    ],
    [
      'an unknown seat',
      () => [app.url, 'POST', '/api/events/show/seats/Z-9-9/hold', { token: alice.token }],
      404,
      'not_found',
    ],
    [
      'an unknown reservation',
      () => [
        app.url,
        'GET',
        '/api/reservations/00000000-0000-4000-8000-000000000000',
        { token: alice.token },
      ],
      404,
      'not_found',
    ],
    [
      'a reservation id that is no UUID',
      () => [app.url, 'GET', '/api/reservations/1%20OR%201=1', { token: alice.token }],
      400,
      'validation_failed',
      'id',
    ],
    ['no token', () => [app.url, 'POST', '/api/events/show/queue', {}], 401, 'unauthorized'],
    [
      'a forged token',
      () => [app.url, 'POST', '/api/events/show/queue', { token: forged() }],
      401,
      'unauthorized',
    ],
    [
      'an expired token',
      () => [app.url, 'POST', '/api/events/show/queue', { token: expired() }],
      401,
      'unauthorized',
    ],
    [
      "another user's reservation",
      () => [app.url, 'GET', `/api/reservations/${aliceReservation}`, { token: bob.token }],
      403,
      'forbidden',
    ],
    [
      "paying another user's reservation",
      () => [
        app.url,
        'POST',
        `/api/reservations/${aliceReservation}/payments`,
        { token: bob.token, body: { method: 'card' } },
      ],
      403,
      'forbidden',
    ],
    [
      'an unknown payment method',
      () => [
        app.url,
        'POST',
        `/api/reservations/${aliceReservation}/payments`,
        { token: alice.token, body: { method: 'bitcoin' } },
      ],
      400,
      'validation_failed',
      'method',
    ],
    [
      'holding before admission',
      () => [app.url, 'POST', `/api/events/show/seats/${seatIds[1]}/hold`, { token: bob.token }],
      403,
      'forbidden',
    ],
    [
      'reserving seats not held',
      () => [
        app.url,
        'POST',
        '/api/reservations',
        { token: alice.token, body: { eventId: 'show', seatIds: [seatIds[2]] } },
      ],
      409,
      'seat_not_held',
      'seatIds',
    ],
    [
      'a repeated seat',
      () => [
        app.url,
        'POST',
        '/api/reservations',
        { token: alice.token, body: { eventId: 'show', seatIds: [seatIds[0], seatIds[0]] } },
      ],
      400,
      'validation_failed',
      'seatIds',
    ],
    [
      "releasing another user's hold",
      () => [app.url, 'DELETE', `/api/events/show/seats/${seatIds[0]}/hold`, { token: bob.token }],
      403,
      'forbidden',
    ],
    ['an unknown route', () => [app.url, 'GET', '/api/nothing-here', {}], 404, 'not_found'],
  ];

  it.each(cases)('%s → %i %s', async (_name, request, status, code, field) => {
    const before = await snapshot();
    const res = await api(...request());
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(res.body.error.message).toEqual(expect.any(String));
    expect(res.body.error.message.length).toBeGreaterThan(5);
    if (field) expect(res.body.error.field).toBe(field);
    expect(res.headers.get('x-instance-id')).toBe('local');
    expect(await snapshot()).toEqual(before);
  });
});
