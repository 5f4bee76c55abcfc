/**
 * What the database says after a rehearsal, against what clients were told: the zero-data-loss
 * and no-double-sale checks. Counted from the database itself, never from the app's own logs.
 */
import type pg from 'pg';

export interface IntegrityReport {
  /** Seats of the event in more than one confirmed reservation. */
  seatsSoldTwice: number;
  /** Reservations a client was told were paid (201) that the database does not hold as confirmed. */
  confirmedReservationsLost: number;
  /** Up to 20 of the lost ids, for the report. */
  lostSample: string[];
  confirmedInDatabase: number;
  /** The most seats one user has in live (confirmed, or pending and not expired) reservations. */
  mostSeatsPerUser: number;
}

export async function checkIntegrity(
  db: pg.Pool | pg.Client,
  eventId: string,
  confirmedToClients: readonly string[],
): Promise<IntegrityReport> {
  const doubles = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (
       SELECT rs.seat_id FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
       WHERE r.status = 'confirmed' AND r.event_id = $1 GROUP BY rs.seat_id HAVING count(*) > 1) d`,
    [eventId],
  );
  const confirmed = await db.query<{ id: string }>(
    "SELECT id::text AS id FROM reservations WHERE status = 'confirmed' AND event_id = $1",
    [eventId],
  );
  const most = await db.query<{ n: number }>(
    `SELECT COALESCE(max(n), 0)::int AS n FROM (
       SELECT count(*) AS n FROM reservation_seats rs JOIN reservations r ON r.id = rs.reservation_id
       WHERE r.event_id = $1 AND (r.status = 'confirmed' OR (r.status = 'pending' AND r.expires_at >= now()))
       GROUP BY r.user_id) u`,
    [eventId],
  );
  const inDb = new Set(confirmed.rows.map((r) => r.id));
  const lost = confirmedToClients.filter((id) => !inDb.has(id));
  return {
    seatsSoldTwice: doubles.rows[0]?.n ?? 0,
    confirmedReservationsLost: lost.length,
    lostSample: lost.slice(0, 20),
    confirmedInDatabase: inDb.size,
    mostSeatsPerUser: most.rows[0]?.n ?? 0,
  };
}
