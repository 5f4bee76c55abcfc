/**
 * Reservations and payments in PostgreSQL. A reservation takes only seats the caller holds, in
 * one transaction; the `one_live_reservation_per_seat` constraint makes a second reservation of a
 * seat fail in the database, whatever the code above it does. A user's live reservations of an
 * event, and the seats in them, are bounded (`ReservationLimits`): the transaction locks the
 * user's row first, so two requests of one user on two instances are counted one after the other.
 * Each transaction is one statement, a function of migration 002: one round trip instead of 8 (a
 * reservation) or 6 (a payment).
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

export interface ReservationLimits {
  /** Pending (not expired) and confirmed reservations of one user in one event. */
  reservationsPerUserPerEvent: number;
  /** Seats in them, in all. */
  seatsPerUserPerEvent: number;
}

/** What `reserve_seats` (migration 002) answers: the reservation, or why it was refused. */
type ReserveOutcome =
  | { outcome: 'reserved'; reservationId: string; amountKrw: number; expiresAt: string }
  | { outcome: 'reservation_limit'; liveReservations: number }
  | { outcome: 'seat_limit'; liveSeats: number }
  | { outcome: 'unknown_seats'; unknownSeatIds: string[] };

/**
 * Reserves seats the caller holds: one statement, one round trip (`reserve_seats`, migration 002:
 * the user's row locked, the limits counted, run-out reservations expired, the seats claimed).
 */
export async function createReservation(
  pool: pg.Pool,
  input: { userId: string; eventId: string; seatIds: string[]; expiresAt: Date },
  limits: ReservationLimits = designTopology.limits,
): Promise<Reservation> {
  let result: ReserveOutcome;
  try {
    const { rows } = await pool.query<{ result: ReserveOutcome }>(
      'SELECT reserve_seats($1, $2, $3::text[], $4, $5, $6) AS result',
      [
        input.userId,
        input.eventId,
        input.seatIds,
        input.expiresAt,
        limits.reservationsPerUserPerEvent,
        limits.seatsPerUserPerEvent,
      ],
    );
    result = rows[0]!.result;
  } catch (err) {
    if ((err as { code?: string }).code === UNIQUE_VIOLATION)
      throw conflict('seat_taken', 'one of these seats is already reserved; choose other seats');
    throw err;
  }
  switch (result.outcome) {
    case 'reserved':
      return {
        reservationId: result.reservationId,
        eventId: input.eventId,
        userId: input.userId,
        status: 'pending',
        seatIds: input.seatIds,
        amountKrw: result.amountKrw,
        expiresAt: new Date(result.expiresAt).toISOString(),
        confirmedAt: null,
      };
    case 'reservation_limit':
      throw conflict(
        'reservation_limit',
        `you have ${result.liveReservations} live reservations for this event (at most ${limits.reservationsPerUserPerEvent}); pay or let one expire first`,
      );
    case 'seat_limit':
      throw new ApiError(
        409,
        'seat_limit',
        `you have ${result.liveSeats} seats reserved for this event; ${input.seatIds.length} more would pass the limit of ${limits.seatsPerUserPerEvent}`,
        'seatIds',
      );
    case 'unknown_seats':
      throw new ApiError(
        404,
        'not_found',
        `seats not found in event ${input.eventId}: ${result.unknownSeatIds.join(', ')}`,
        'seatIds',
      );
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

/** What `pay_reservation` (migration 002) answers: the payment, or why it was refused. */
type PayOutcome =
  | {
      outcome: 'paid';
      paymentId: string;
      eventId: string;
      amountKrw: number;
      expiresAt: string;
      confirmedAt: string;
      seatIds: string[];
    }
  | { outcome: 'not_found' | 'forbidden' | 'already_paid' | 'reservation_expired' };

/**
 * Pays a pending reservation: payment recorded, reservation confirmed, seats sold — one statement,
 * one round trip (`pay_reservation`, migration 002; two payments of one reservation serialise on
 * its row).
 */
export async function payReservation(
  pool: pg.Pool,
  input: { reservationId: string; userId: string; method: string },
): Promise<{ payment: Payment; reservation: Reservation }> {
  const { rows } = await pool.query<{ result: PayOutcome }>('SELECT pay_reservation($1, $2, $3) AS result', [
    input.reservationId,
    input.userId,
    input.method,
  ]);
  const result = rows[0]!.result;
  switch (result.outcome) {
    case 'not_found':
      throw notFound(`reservation ${input.reservationId}`);
    case 'forbidden':
      throw forbidden('this reservation belongs to another user');
    case 'already_paid':
      throw conflict('already_paid', 'this reservation is already paid');
    case 'reservation_expired':
      throw conflict(
        'reservation_expired',
        'this reservation expired before payment; reserve the seats again',
      );
  }
  return {
    payment: {
      paymentId: result.paymentId,
      reservationId: input.reservationId,
      method: input.method,
      amountKrw: result.amountKrw,
      status: 'confirmed',
    },
    reservation: {
      reservationId: input.reservationId,
      eventId: result.eventId,
      userId: input.userId,
      status: 'confirmed',
      seatIds: result.seatIds,
      amountKrw: result.amountKrw,
      expiresAt: new Date(result.expiresAt).toISOString(),
      confirmedAt: new Date(result.confirmedAt).toISOString(),
    },
  };
}
