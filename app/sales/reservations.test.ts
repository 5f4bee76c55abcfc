/**
 * Reservations and payments, one statement each (migration 002), on a real PostgreSQL: every
 * outcome the functions answer, and the errors the app makes of them.
 */
import type pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DataTierServers, startDataTierServers } from '../../servers/data-tier.ts';
import { testPool } from '../../servers/test-clients.ts';
import { ApiError } from '../core/errors.ts';
import { createRedis } from '../core/redis.ts';
import { migrate } from '../db/migrate.ts';
import { createReservation, getReservation, payReservation } from './reservations.ts';
import { seedDemoEvent } from './seed.ts';

const EVENT = 'res';
const LIMITS = { reservationsPerUserPerEvent: 2, seatsPerUserPerEvent: 4 };
const inAnHour = () => new Date(Date.now() + 3_600_000);

/** The ApiError a promise rejects with. */
async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(err)}`);
  return err;
}

describe('reservations and payments, one statement each', () => {
  let tier: DataTierServers;
  let db: pg.Pool;
  let seats: string[];
  let users: string[];

  beforeAll(async () => {
    tier = await startDataTierServers();
    db = testPool(tier.postgres.url);
    await migrate(db);
    const redis = createRedis({ kind: 'url', url: tier.redis.url }, pino({ level: 'silent' }), 'test');
    seats = (await seedDemoEvent(db, redis, { eventId: EVENT, seats: 20 })).seatIds;
    redis.disconnect();
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO users (email, name, password_hash)
       SELECT 'u' || i || '@example.com', 'user ' || i, 'x' FROM generate_series(1, 4) AS i RETURNING id`,
    );
    users = rows.map((r) => r.id);
  });

  afterAll(async () => {
    await db?.end();
    await tier?.stop();
  });

  it('reserves held seats at their price; a live seat is refused to the next user; unknown seats are named', async () => {
    const [alice, bob] = users as [string, string];
    const r = await createReservation(
      db,
      { userId: alice, eventId: EVENT, seatIds: [seats[0]!, seats[1]!], expiresAt: inAnHour() },
      LIMITS,
    );
    const { rows } = await db.query<{ price: number }>(
      `SELECT sum(t.price_krw)::int AS price FROM seats s JOIN tickets t ON t.id = s.ticket_id
       WHERE s.event_id = $1 AND s.seat_id = ANY($2::text[])`,
      [EVENT, [seats[0], seats[1]]],
    );
    expect(r).toMatchObject({
      status: 'pending',
      userId: alice,
      amountKrw: rows[0]!.price,
      confirmedAt: null,
    });
    expect(await getReservation(db, r.reservationId, alice)).toMatchObject({
      status: 'pending',
      seatIds: [seats[0], seats[1]].sort(),
      amountKrw: r.amountKrw,
      expiresAt: r.expiresAt,
    });
    const taken = await refusal(
      createReservation(
        db,
        { userId: bob, eventId: EVENT, seatIds: [seats[1]!], expiresAt: inAnHour() },
        LIMITS,
      ),
    );
    expect(taken).toMatchObject({ status: 409, code: 'seat_taken' });
    const unknown = await refusal(
      createReservation(
        db,
        { userId: bob, eventId: EVENT, seatIds: [seats[2]!, 'Z-99'], expiresAt: inAnHour() },
        LIMITS,
      ),
    );
    expect(unknown).toMatchObject({ status: 404, code: 'not_found', field: 'seatIds' });
    expect(unknown.message).toContain('Z-99');
    expect(unknown.message).not.toContain(seats[2]!);
    // Refused as a whole: nothing of either refusal was kept.
    const kept = await db.query('SELECT 1 FROM reservations WHERE user_id = $1', [bob]);
    expect(kept.rowCount).toBe(0);
  });

  it('a pending reservation that ran out gives its seats to the next user', async () => {
    const [, , carol, dave] = users as [string, string, string, string];
    const gone = await createReservation(
      db,
      { userId: carol, eventId: EVENT, seatIds: [seats[5]!], expiresAt: new Date(Date.now() - 1_000) },
      LIMITS,
    );
    const next = await createReservation(
      db,
      { userId: dave, eventId: EVENT, seatIds: [seats[5]!], expiresAt: inAnHour() },
      LIMITS,
    );
    expect(next.status).toBe('pending');
    expect((await getReservation(db, gone.reservationId, carol)).status).toBe('expired');
    const late = await refusal(
      payReservation(db, { reservationId: gone.reservationId, userId: carol, method: 'card' }),
    );
    expect(late).toMatchObject({ status: 409, code: 'reservation_expired' });
  });

  it('pays once, for its owner: confirmed with its seats; again, by another user or unknown, refused', async () => {
    const [, bob, carol] = users as [string, string, string];
    const r = await createReservation(
      db,
      { userId: bob, eventId: EVENT, seatIds: [seats[9]!, seats[8]!], expiresAt: inAnHour() },
      LIMITS,
    );
    const stranger = await refusal(
      payReservation(db, { reservationId: r.reservationId, userId: carol, method: 'card' }),
    );
    expect(stranger).toMatchObject({ status: 403, code: 'forbidden' });
    const { payment, reservation } = await payReservation(db, {
      reservationId: r.reservationId,
      userId: bob,
      method: 'card',
    });
    expect(payment).toMatchObject({
      reservationId: r.reservationId,
      method: 'card',
      amountKrw: r.amountKrw,
      status: 'confirmed',
    });
    expect(reservation).toMatchObject({
      status: 'confirmed',
      eventId: EVENT,
      seatIds: [seats[8], seats[9]].sort(),
      expiresAt: r.expiresAt,
    });
    expect(Date.parse(reservation.confirmedAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect(await getReservation(db, r.reservationId, bob)).toMatchObject({
      status: 'confirmed',
      confirmedAt: reservation.confirmedAt,
    });
    const twice = await refusal(
      payReservation(db, { reservationId: r.reservationId, userId: bob, method: 'card' }),
    );
    expect(twice).toMatchObject({ status: 409, code: 'already_paid' });
    const none = await refusal(
      payReservation(db, {
        reservationId: '00000000-0000-4000-8000-000000000000',
        userId: bob,
        method: 'card',
      }),
    );
    expect(none).toMatchObject({ status: 404, code: 'not_found' });
    const paid = await db.query('SELECT 1 FROM payments WHERE reservation_id = $1', [r.reservationId]);
    expect(paid.rowCount).toBe(1);
  });

  it('two payments of one reservation at once: one is confirmed, the other already_paid', async () => {
    const [, , , dave] = users as [string, string, string, string];
    const r = await createReservation(
      db,
      { userId: dave, eventId: EVENT, seatIds: [seats[12]!], expiresAt: inAnHour() },
      LIMITS,
    );
    const results = await Promise.allSettled(
      [1, 2].map(() => payReservation(db, { reservationId: r.reservationId, userId: dave, method: 'card' })),
    );
    expect(results.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((x) => x.status === 'rejected') as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({ status: 409, code: 'already_paid' });
  });
});
