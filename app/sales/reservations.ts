/**
 * Reservations and payments in PostgreSQL. A reservation takes only seats the caller holds, in
 * one transaction; the `one_live_reservation_per_seat` constraint makes a second reservation of a
 * seat fail in the database, whatever the code above it does. A user's live reservations of an
 * event, and the seats in them, are bounded (`ReservationLimits`): the transaction locks the
 * user's row first, so two requests of one user on two instances are counted one after the other.
 */
import type pg from 'pg';
import { designTopology } from '../../infra/topology.ts';
import { ApiError, conflict, forbidden, notFound } from '../core/errors.ts';

export interface Reservation {
  reservationId: string;
  eventId: string;
  userId: string;
  status: 'pending' | 'confirmed' | 'expired';
  seatIds: string[];
  amountKrw: number;
  expiresAt: string;
  confirmedAt: string | null;
}

const UNIQUE_VIOLATION = '23505';

async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined); // the connection may be the thing that broke
    throw err;
  } finally {
    client.release();
  }
}

export interface ReservationLimits {
  /** Pending (not expired) and confirmed reservations of one user in one event. */
  reservationsPerUserPerEvent: number;
  /** Seats in them, in all. */
  seatsPerUserPerEvent: number;
}

/** Refuses a reservation that would take the user past a limit; call with the user's row locked. */
async function checkUserLimits(
  client: pg.PoolClient,
  input: { userId: string; eventId: string; seatIds: string[] },
  limits: ReservationLimits,
): Promise<void> {
  const { rows } = await client.query<{ reservations: number; seats: number }>(
    `SELECT count(DISTINCT r.id)::int AS reservations, count(rs.seat_id)::int AS seats
     FROM reservations r LEFT JOIN reservation_seats rs ON rs.reservation_id = r.id
     WHERE r.user_id = $1 AND r.event_id = $2
       AND (r.status = 'confirmed' OR (r.status = 'pending' AND r.expires_at >= now()))`,
    [input.userId, input.eventId],
  );
  const live = rows[0]!;
  if (live.reservations + 1 > limits.reservationsPerUserPerEvent) {
    throw conflict(
      'reservation_limit',
      `you have ${live.reservations} live reservations for this event (at most ${limits.reservationsPerUserPerEvent}); pay or let one expire first`,
    );
  }
  if (live.seats + input.seatIds.length > limits.seatsPerUserPerEvent) {
    throw new ApiError(
      409,
      'seat_limit',
      `you have ${live.seats} seats reserved for this event; ${input.seatIds.length} more would pass the limit of ${limits.seatsPerUserPerEvent}`,
      'seatIds',
    );
  }
}

export async function createReservation(
  pool: pg.Pool,
  input: { userId: string; eventId: string; seatIds: string[]; expiresAt: Date },
  limits: ReservationLimits = designTopology.limits,
): Promise<Reservation> {
  try {
    return await inTransaction(pool, async (client) => {
      // One user's reservations take turns from here to the commit, on whatever instance.
      await client.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [input.userId]);
      await checkUserLimits(client, input, limits);
      const seats = await client.query<{ seat_id: string; price_krw: number }>(
        `SELECT s.seat_id, t.price_krw FROM seats s JOIN tickets t ON t.id = s.ticket_id
         WHERE s.event_id = $1 AND s.seat_id = ANY($2::text[])`,
        [input.eventId, input.seatIds],
      );
      if (seats.rowCount !== input.seatIds.length) {
        const known = new Set(seats.rows.map((r) => r.seat_id));
        const unknown = input.seatIds.filter((s) => !known.has(s));
        throw new ApiError(
          404,
          'not_found',
          `seats not found in event ${input.eventId}: ${unknown.join(', ')}`,
          'seatIds',
        );
      }
      // Pending reservations that ran out give their seats back before we claim them.
      await client.query(
        `WITH gone AS (
           UPDATE reservations r SET status = 'expired'
           WHERE r.status = 'pending' AND r.expires_at < now() AND r.event_id = $1
             AND EXISTS (SELECT 1 FROM reservation_seats rs WHERE rs.reservation_id = r.id AND rs.seat_id = ANY($2::text[]))
           RETURNING r.id)
         DELETE FROM reservation_seats WHERE reservation_id IN (SELECT id FROM gone)`,
        [input.eventId, input.seatIds],
      );
      const amount = seats.rows.reduce((sum, r) => sum + r.price_krw, 0);
      const { rows } = await client.query<{ id: string; expires_at: Date }>(
        `INSERT INTO reservations (user_id, event_id, status, amount_krw, expires_at) VALUES ($1, $2, 'pending', $3, $4) RETURNING id, expires_at`,
        [input.userId, input.eventId, amount, input.expiresAt],
      );
      const reservation = rows[0]!;
      await client.query(
        'INSERT INTO reservation_seats (reservation_id, event_id, seat_id) SELECT $1, $2, unnest($3::text[])',
        [reservation.id, input.eventId, input.seatIds],
      );
      return {
        reservationId: reservation.id,
        eventId: input.eventId,
        userId: input.userId,
        status: 'pending' as const,
        seatIds: input.seatIds,
        amountKrw: amount,
        expiresAt: reservation.expires_at.toISOString(),
        confirmedAt: null,
      };
    });
  } catch (err) {
    if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
      throw conflict('seat_taken', 'one of these seats is already reserved; choose other seats');
    }
    throw err;
  }
}

const RESERVATION_SQL = `
  SELECT r.id, r.user_id, r.event_id, r.status, r.amount_krw, r.expires_at, r.confirmed_at,
         COALESCE(array_agg(rs.seat_id ORDER BY rs.seat_id) FILTER (WHERE rs.seat_id IS NOT NULL), '{}') AS seat_ids
  FROM reservations r LEFT JOIN reservation_seats rs ON rs.reservation_id = r.id
  WHERE r.id = $1 GROUP BY r.id`;

interface ReservationRow {
  id: string;
  user_id: string;
  event_id: string;
  status: Reservation['status'];
  amount_krw: number;
  expires_at: Date;
  confirmed_at: Date | null;
  seat_ids: string[];
}

function toReservation(row: ReservationRow): Reservation {
  return {
    reservationId: row.id,
    userId: row.user_id,
    eventId: row.event_id,
    status: row.status === 'pending' && row.expires_at.getTime() < Date.now() ? 'expired' : row.status,
    seatIds: row.seat_ids,
    amountKrw: row.amount_krw,
    expiresAt: row.expires_at.toISOString(),
    confirmedAt: row.confirmed_at?.toISOString() ?? null,
  };
}

export async function getReservation(
  pool: pg.Pool,
  reservationId: string,
  userId: string,
): Promise<Reservation> {
  const { rows } = await pool.query<ReservationRow>(RESERVATION_SQL, [reservationId]);
  if (!rows[0]) throw notFound(`reservation ${reservationId}`);
  if (rows[0].user_id !== userId) throw forbidden('this reservation belongs to another user');
  return toReservation(rows[0]);
}

export interface Payment {
  paymentId: string;
  reservationId: string;
  method: string;
  amountKrw: number;
  status: 'confirmed';
}

/** Pays a pending reservation: payment recorded, reservation confirmed, seats sold — one commit. */
export async function payReservation(
  pool: pg.Pool,
  input: { reservationId: string; userId: string; method: string },
): Promise<{ payment: Payment; reservation: Reservation }> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<ReservationRow>(RESERVATION_SQL, [input.reservationId]);
    const row = rows[0];
    if (!row) throw notFound(`reservation ${input.reservationId}`);
    if (row.user_id !== input.userId) throw forbidden('this reservation belongs to another user');
    // Lock the row: two payments of one reservation serialise here.
    const locked = await client.query<{ status: string; expired: boolean }>(
      'SELECT status, expires_at < now() AS expired FROM reservations WHERE id = $1 FOR UPDATE',
      [input.reservationId],
    );
    const current = locked.rows[0]!;
    if (current.status === 'confirmed') throw conflict('already_paid', 'this reservation is already paid');
    if (current.status === 'expired' || current.expired) {
      throw conflict(
        'reservation_expired',
        'this reservation expired before payment; reserve the seats again',
      );
    }
    const payment = await client.query<{ id: string }>(
      `INSERT INTO payments (reservation_id, method, amount_krw, status) VALUES ($1, $2, $3, 'confirmed') RETURNING id`,
      [input.reservationId, input.method, row.amount_krw],
    );
    const confirmed = await client.query<{ confirmed_at: Date }>(
      `UPDATE reservations SET status = 'confirmed', confirmed_at = now() WHERE id = $1 RETURNING confirmed_at`,
      [input.reservationId],
    );
    const reservation = toReservation({
      ...row,
      status: 'confirmed',
      confirmed_at: confirmed.rows[0]!.confirmed_at,
    });
    return {
      payment: {
        paymentId: payment.rows[0]!.id,
        reservationId: input.reservationId,
        method: input.method,
        amountKrw: row.amount_krw,
        status: 'confirmed',
      },
      reservation,
    };
  });
}
