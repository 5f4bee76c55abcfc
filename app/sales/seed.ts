/**
 * Demo data for rehearsals: an event with ticket types and a seat map (e.g. 5,000 seats), and
 * the switch that opens its sales (the waiting room starts admitting).
 */
import type pg from 'pg';
import { keys } from '../core/keys.ts';
import type { RedisClient } from '../core/redis.ts';
import { invalidateEventCache } from './events.ts';

export interface DemoEventOptions {
  eventId: string;
  name?: string;
  seats: number;
  /** Open sales right away. @default false */
  openSales?: boolean;
}

const SECTIONS = [
  { section: 'VIP', share: 0.1, priceKrw: 220_000 },
  { section: 'R', share: 0.3, priceKrw: 165_000 },
  { section: 'S', share: 0.6, priceKrw: 132_000 },
];
const SEATS_PER_ROW = 50;

export async function seedDemoEvent(
  pool: pg.Pool,
  redis: RedisClient,
  options: DemoEventOptions,
): Promise<{ eventId: string; seatIds: string[] }> {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(options.eventId))
    throw new Error('eventId must be 1–64 of [A-Za-z0-9_-]');
  const client = await pool.connect();
  const seatIds: string[] = [];
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO events (id, name, venue, starts_at, sales_open_at) VALUES ($1, $2, 'Olympic Hall, Seoul', now() + interval '30 days', NULL)`,
      [options.eventId, options.name ?? `Rehearsal drop ${options.eventId}`],
    );
    let remaining = options.seats;
    for (const [i, s] of SECTIONS.entries()) {
      const count = i === SECTIONS.length - 1 ? remaining : Math.round(options.seats * s.share);
      remaining -= count;
      const ticketId = `${options.eventId}-${s.section}`;
      await client.query('INSERT INTO tickets (id, event_id, name, price_krw) VALUES ($1, $2, $3, $4)', [
        ticketId,
        options.eventId,
        s.section,
        s.priceKrw,
      ]);
      // Seat ids read like a ticket: VIP-3-17 is section VIP, row 3, seat 17.
      const { rows } = await client.query<{ seat_id: string }>(
        `INSERT INTO seats (event_id, seat_id, section, row_label, number, ticket_id)
         SELECT $1, $2 || '-' || ((g - 1) / $4 + 1) || '-' || ((g - 1) % $4 + 1), $2, ((g - 1) / $4 + 1)::text, (g - 1) % $4 + 1, $3
         FROM generate_series(1, $5::int) AS g RETURNING seat_id`,
        [options.eventId, s.section, ticketId, SEATS_PER_ROW, count],
      );
      seatIds.push(...rows.map((r) => r.seat_id));
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
  await invalidateEventCache(redis, options.eventId);
  if (options.openSales) await openSales(pool, redis, options.eventId);
  return { eventId: options.eventId, seatIds };
}

/** Sales open: from now on the admitter moves this event's queue into the active set. */
export async function openSales(pool: pg.Pool, redis: RedisClient, eventId: string): Promise<void> {
  await pool.query('UPDATE events SET sales_open_at = now(), updated_at = now() WHERE id = $1', [eventId]);
  await redis.set(keys.salesOpen(eventId), '1');
  await invalidateEventCache(redis, eventId);
}
