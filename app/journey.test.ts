import type pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRedis } from './core/redis.ts';
import { openSales, seedDemoEvent } from './sales/seed.ts';
import type { StartedTiketiServer } from './server.ts';
import {
  api,
  connect,
  connected,
  type DataTier,
  nextEvent,
  startDataTier,
  startInstance,
  testPool,
} from './test-support/app-harness.ts';

describe('the whole journey on real Redis and PostgreSQL', () => {
  let tier: DataTier;
  let app: StartedTiketiServer;
  let pool: pg.Pool;

  beforeAll(async () => {
    tier = await startDataTier();
    app = await startInstance(tier, { SHOPPING_WINDOW_SECONDS: '60' });
    pool = testPool(tier.postgres.url);
    const redis = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'seed');
    await seedDemoEvent(pool, redis, { eventId: 'journey', seats: 120 });
    await openSales(pool, redis, 'journey');
    redis.disconnect();
  });
  afterAll(async () => {
    await app?.close();
    await pool?.end();
    await tier?.stop();
  });

  it('register → join → admitted over Socket.IO → hold → reserve → pay', async () => {
    const registered = await api(app.url, 'POST', '/api/auth/register', {
      body: { email: 'Fan@Example.com', password: 'correct horse', name: 'Fan' },
    });
    expect(registered.status).toBe(202);
    expect(registered.headers.get('x-instance-id')).toBe('local');
    const login = await api(app.url, 'POST', '/api/auth/login', {
      body: { email: 'fan@example.com', password: 'correct horse' },
    });
    expect(login.status).toBe(200);
    expect(login.headers.get('cache-control')).toBe('no-store');
    const { token } = login.body;

    const events = await api(app.url, 'GET', '/api/events');
    expect(events.body.events.map((e: { id: string }) => e.id)).toContain('journey');
    const event = await api(app.url, 'GET', '/api/events/journey');
    expect(event.body).toMatchObject({ id: 'journey', seatCount: 120 });

    const socket = connect(app.url, { token, eventId: 'journey' });
    try {
      const state = nextEvent(socket, 'session:state');
      await connected(socket);
      expect((await state).state).toBe('none');

      const admitted = nextEvent(socket, 'queue:admitted');
      const joined = await api(app.url, 'POST', '/api/events/journey/queue', { token });
      expect(joined.status).toBe(201);
      expect(joined.body).toEqual({ position: 1, queueSize: 1 });
      // Joining again keeps the first place (or, once admitted, says so).
      const again = await api(app.url, 'POST', '/api/events/journey/queue', { token });
      expect([again.body.position, again.body.state]).toContain(again.body.position === 1 ? 1 : 'admitted');

      const admission = await admitted;
      expect(admission.eventId).toBe('journey');
      expect(admission.admittedUntil).toBeGreaterThan(Date.now());
      expect((await api(app.url, 'GET', '/api/events/journey/queue/me', { token })).body.state).toBe(
        'admitted',
      );

      const seats = await api(app.url, 'GET', '/api/events/journey/seats');
      const [a, b] = seats.body.seats
        .filter((s: { status: string }) => s.status === 'available')
        .map((s: { seatId: string }) => s.seatId);
      const heldEvent = nextEvent<{ eventId: string; held: string[] }>(socket, 'seats:changed', (p) =>
        p.held.includes(a),
      );
      expect((await api(app.url, 'POST', `/api/events/journey/seats/${a}/hold`, { token })).status).toBe(201);
      expect((await api(app.url, 'POST', `/api/events/journey/seats/${b}/hold`, { token })).status).toBe(201);
      expect((await heldEvent).eventId).toBe('journey');
      // The seat map is a snapshot (limits.seatSnapshotTtlMs): it shows the hold once it renews.
      await vi.waitFor(
        async () => {
          const seatMap = await api(app.url, 'GET', '/api/events/journey/seats');
          expect(seatMap.body.seats.find((s: { seatId: string }) => s.seatId === a).status).toBe('held');
        },
        { timeout: 5_000, interval: 200 },
      );

      const reservation = await api(app.url, 'POST', '/api/reservations', {
        token,
        body: { eventId: 'journey', seatIds: [a, b] },
      });
      expect(reservation.status).toBe(201);
      expect(reservation.body).toMatchObject({ status: 'pending' });
      expect(Date.parse(reservation.body.expiresAt)).toBeGreaterThan(Date.now());

      const sold = nextEvent<{ sold: string[] }>(socket, 'seats:changed', (p) => p.sold.length > 0);
      const payment = await api(
        app.url,
        'POST',
        `/api/reservations/${reservation.body.reservationId}/payments`,
        { token, body: { method: 'card' } },
      );
      expect(payment.status).toBe(201);
      expect((await sold).sold.sort()).toEqual([a, b].sort());

      const mine = await api(app.url, 'GET', `/api/reservations/${reservation.body.reservationId}`, {
        token,
      });
      expect(mine.body).toMatchObject({ status: 'confirmed', seatIds: [a, b].sort() });
      expect((await api(app.url, 'GET', '/api/events/journey/queue/me', { token })).body.state).toBe('none');
      await vi.waitFor(
        async () => {
          const after = await api(app.url, 'GET', '/api/events/journey/seats');
          expect(
            after.body.seats
              .filter((s: { status: string }) => s.status === 'sold')
              .map((s: { seatId: string }) => s.seatId)
              .sort(),
          ).toEqual([a, b].sort());
        },
        { timeout: 5_000, interval: 200 },
      );
      const { rows } = await pool.query(
        "SELECT count(*)::int AS n FROM payments p JOIN reservations r ON r.id = p.reservation_id WHERE r.status = 'confirmed'",
      );
      expect(rows[0].n).toBe(1);
    } finally {
      socket.close();
    }
  });
});
