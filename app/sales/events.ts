/** Events and their seat maps: read through a Redis cache (design: 60 s), invalidated on change. */
import type pg from 'pg';
import { keys } from '../core/keys.ts';
import type { RedisClient } from '../core/redis.ts';

export interface TicketType {
  id: string;
  name: string;
  priceKrw: number;
}

export interface EventSummary {
  id: string;
  name: string;
  venue: string;
  startsAt: string;
  salesOpenAt: string | null;
  seatCount: number;
  ticketTypes: TicketType[];
}

export interface SeatInfo {
  seatId: string;
  section: string;
  row: string;
  number: number;
  ticketId: string;
}

const EVENT_SQL = `
  SELECT e.id, e.name, e.venue, e.starts_at, e.sales_open_at,
         (SELECT count(*)::int FROM seats s WHERE s.event_id = e.id) AS seat_count,
         COALESCE((SELECT json_agg(json_build_object('id', t.id, 'name', t.name, 'priceKrw', t.price_krw) ORDER BY t.price_krw DESC)
                   FROM tickets t WHERE t.event_id = e.id), '[]') AS ticket_types
  FROM events e`;

interface EventRow {
  id: string;
  name: string;
  venue: string;
  starts_at: Date;
  sales_open_at: Date | null;
  seat_count: number;
  ticket_types: TicketType[];
}

function toSummary(row: EventRow): EventSummary {
  return {
    id: row.id,
    name: row.name,
    venue: row.venue,
    startsAt: row.starts_at.toISOString(),
    salesOpenAt: row.sales_open_at?.toISOString() ?? null,
    seatCount: row.seat_count,
    ticketTypes: row.ticket_types,
  };
}

export class EventCatalog {
  /** Seat maps never change once an event exists: kept in memory per instance. */
  private readonly seatMaps = new Map<string, SeatInfo[]>();
  /**
   * Events known to exist (events are never deleted): what a queue join, a socket's follow and a
   * reservation check, without a Redis round trip each. That read was 2 of the 9 round trips of a
   * user's join and connect (bench/app-cpu.ts), each a write and a read on this 2-core machine.
   */
  private readonly known = new Set<string>();

  constructor(
    private readonly reader: pg.Pool,
    private readonly redis: RedisClient,
    private readonly cacheTtlSeconds: number,
  ) {}

  async list(): Promise<EventSummary[]> {
    const cached = await this.redis.get(keys.eventList);
    if (cached) return JSON.parse(cached) as EventSummary[];
    const { rows } = await this.reader.query<EventRow>(`${EVENT_SQL} ORDER BY e.starts_at, e.id`);
    const events = rows.map(toSummary);
    await this.redis.set(keys.eventList, JSON.stringify(events), 'EX', this.cacheTtlSeconds);
    return events;
  }

  async get(eventId: string): Promise<EventSummary | undefined> {
    const cached = await this.redis.get(keys.event(eventId));
    if (cached) return JSON.parse(cached) as EventSummary;
    const { rows } = await this.reader.query<EventRow>(`${EVENT_SQL} WHERE e.id = $1`, [eventId]);
    if (!rows[0]) return undefined;
    const event = toSummary(rows[0]);
    await this.redis.set(keys.event(eventId), JSON.stringify(event), 'EX', this.cacheTtlSeconds);
    return event;
  }

  /** Whether the event exists; once it does, answered from memory. */
  async exists(eventId: string): Promise<boolean> {
    if (this.known.has(eventId)) return true;
    const found = (await this.get(eventId)) !== undefined;
    if (found) this.known.add(eventId);
    return found;
  }

  async seatMap(eventId: string): Promise<SeatInfo[] | undefined> {
    const known = this.seatMaps.get(eventId);
    if (known) return known;
    const { rows } = await this.reader.query<{
      seat_id: string;
      section: string;
      row_label: string;
      number: number;
      ticket_id: string;
    }>(
      'SELECT seat_id, section, row_label, number, ticket_id FROM seats WHERE event_id = $1 ORDER BY section, row_label, number',
      [eventId],
    );
    if (rows.length === 0) return (await this.get(eventId)) ? [] : undefined;
    const seats = rows.map((r) => ({
      seatId: r.seat_id,
      section: r.section,
      row: r.row_label,
      number: r.number,
      ticketId: r.ticket_id,
    }));
    this.seatMaps.set(eventId, seats);
    return seats;
  }
}

/** Drops the cached copies of an event after it changed. */
export async function invalidateEventCache(redis: RedisClient, eventId: string): Promise<void> {
  // Two commands: the two keys hash to different cluster slots (one DEL of both is CROSSSLOT).
  await Promise.all([redis.del(keys.eventList), redis.del(keys.event(eventId))]);
}
