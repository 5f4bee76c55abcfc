import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUsersInBulk } from './auth/bulk-users.ts';
import { createTokenSigner } from './auth/tokens.ts';
import { keys } from './core/keys.ts';
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

const USERS = 200;
const SEATS = 20;

describe('contention: 200 users on 2 instances racing for 20 seats', () => {
  let tier: DataTier;
  let instances: StartedTiketiServer[];
  const pool = () => testPool(tier.postgres.url);

  beforeAll(async () => {
    tier = await startDataTier();
    // Admission fast enough that everyone is admitted at once: the race is for seats.
    instances = await Promise.all(
      ['app-1', 'app-2'].map((id) =>
        startInstance(tier, {
          INSTANCE_ID: id,
          ADMISSION_PER_SECOND: '5000',
          SHOPPING_WINDOW_SECONDS: '120',
        }),
      ),
    );
  });
  afterAll(async () => {
    await Promise.allSettled((instances ?? []).map((i) => i.close()));
    await tier?.stop();
  });

  it('sells each seat once; losers get 409; every confirmed payment has exactly one reservation', async () => {
    const db = pool();
    const redis = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'test');
    try {
      const { seatIds } = await seedDemoEvent(db, redis, { eventId: 'race', seats: SEATS, openSales: false });
      const users = await createUsersInBulk(db, redis, createTokenSigner(TEST_SECRET), {
        count: USERS,
        emailPrefix: 'racer',
        password: 'rehearsal-pass',
        sessionTtlSeconds: 3_600,
      });
      expect(users).toHaveLength(USERS);
      await Promise.all(
        users.map((u, i) => api(instances[i % 2]!.url, 'POST', '/api/events/race/queue', { token: u.token })),
      );
      await openSales(db, redis, 'race');
      const deadline = Date.now() + 20_000;
      while ((await redis.scard(keys.active('race'))) < USERS) {
        if (Date.now() > deadline) throw new Error('admission did not admit everyone within 20 s');
        await new Promise((r) => setTimeout(r, 50));
      }

      const outcomes = await Promise.all(
        users.map(async (u, i) => {
          const url = instances[i % 2]!.url;
          const wanted = [seatIds[i % SEATS]!, seatIds[(i * 7 + 3) % SEATS]!].filter(
            (s, k, all) => all.indexOf(s) === k,
          );
          const holds = await Promise.all(
            wanted.map((s) => api(url, 'POST', `/api/events/race/seats/${s}/hold`, { token: u.token })),
          );
          const held = wanted.filter((_, k) => holds[k]!.status === 201);
          const statuses = holds.map((h) => h.status);
          if (held.length === 0) return { statuses, paid: undefined };
          const reservation = await api(url, 'POST', '/api/reservations', {
            token: u.token,
            body: { eventId: 'race', seatIds: held },
          });
          statuses.push(reservation.status);
          if (reservation.status !== 201) return { statuses, paid: undefined };
          const payment = await api(
            url,
            'POST',
            `/api/reservations/${reservation.body.reservationId}/payments`,
            { token: u.token, body: { method: 'card' } },
          );
          statuses.push(payment.status);
          return {
            statuses,
            paid:
              payment.status === 201
                ? { reservationId: reservation.body.reservationId as string, seats: held }
                : undefined,
          };
        }),
      );

      const all = outcomes.flatMap((o) => o.statuses);
      expect(all.filter((s) => s >= 500)).toEqual([]);
      expect(new Set(all.filter((s) => s >= 400))).toEqual(new Set([409]));
      const paid = outcomes.flatMap((o) => (o.paid ? [o.paid] : []));
      const soldSeats = paid.flatMap((p) => p.seats);
      expect(new Set(soldSeats).size).toBe(soldSeats.length);
      expect(soldSeats.length).toBeLessThanOrEqual(SEATS);
      expect(soldSeats.length).toBeGreaterThan(0);

      const doubles = await db.query(
        `SELECT rs.seat_id FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
         WHERE r.status = 'confirmed' GROUP BY rs.event_id, rs.seat_id HAVING count(*) > 1`,
      );
      expect(doubles.rows).toEqual([]);
      const payments = await db.query<{ reservation_id: string; n: number }>(
        `SELECT p.reservation_id, count(r.id)::int AS n FROM payments p LEFT JOIN reservations r ON r.id = p.reservation_id AND r.status = 'confirmed' GROUP BY p.reservation_id`,
      );
      expect(payments.rows.every((r) => r.n === 1)).toBe(true);
      expect(payments.rows.map((r) => r.reservation_id).sort()).toEqual(
        paid.map((p) => p.reservationId).sort(),
      );
    } finally {
      redis.disconnect();
      await db.end();
    }
  });

  it('refuses a second live reservation of a seat in the database itself, whatever the code does', async () => {
    const db = pool();
    try {
      const { rows: users } = await db.query<{ id: string }>('SELECT id FROM users LIMIT 2');
      const { rows: seat } = await db.query<{ seat_id: string }>(
        "SELECT seat_id FROM seats WHERE event_id = 'race' AND seat_id NOT IN (SELECT seat_id FROM reservation_seats) LIMIT 1",
      );
      const reserve = async (userId: string) => {
        const { rows } = await db.query<{ id: string }>(
          "INSERT INTO reservations (user_id, event_id, status, amount_krw, expires_at) VALUES ($1, 'race', 'pending', 0, now() + interval '1 hour') RETURNING id",
          [userId],
        );
        await db.query(
          "INSERT INTO reservation_seats (reservation_id, event_id, seat_id) VALUES ($1, 'race', $2)",
          [rows[0]!.id, seat[0]!.seat_id],
        );
      };
      if (seat.length > 0) {
        await reserve(users[0]!.id);
        await expect(reserve(users[1]!.id)).rejects.toThrow(/one_live_reservation_per_seat/);
      } else {
        // Every seat sold in the race: a duplicate of a sold seat is refused the same way.
        const { rows: sold } = await db.query<{ seat_id: string }>(
          "SELECT seat_id FROM reservation_seats WHERE event_id = 'race' LIMIT 1",
        );
        const { rows } = await db.query<{ id: string }>(
          "INSERT INTO reservations (user_id, event_id, status, amount_krw, expires_at) VALUES ($1, 'race', 'pending', 0, now()) RETURNING id",
          [users[0]!.id],
        );
        await expect(
          db.query(
            "INSERT INTO reservation_seats (reservation_id, event_id, seat_id) VALUES ($1, 'race', $2)",
            [rows[0]!.id, sold[0]!.seat_id],
          ),
        ).rejects.toThrow(/one_live_reservation_per_seat/);
      }
    } finally {
      await db.end();
    }
  });
});
