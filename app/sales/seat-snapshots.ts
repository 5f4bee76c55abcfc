/**
 * The seat map with each seat's status, rendered once per event per `ttlMs` on each instance and
 * served as is: a crowd refreshing `GET /seats` (~490 KB for 5,000 seats, five MGETs) costs Redis
 * one read per instance per interval, not one per request. Seat changes reach shoppers live over
 * Socket.IO; the snapshot may lag them by up to `ttlMs`.
 */
import type { EventCatalog } from './events.ts';
import type { SeatHolds } from './holds.ts';

interface Snapshot {
  body: Promise<string | undefined>;
  expiresAtMs: number;
}

export class SeatSnapshots {
  private readonly byEvent = new Map<string, Snapshot>();

  constructor(
    private readonly catalog: EventCatalog,
    private readonly holds: SeatHolds,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The rendered JSON body, or undefined when the event does not exist. */
  get(eventId: string): Promise<string | undefined> {
    const known = this.byEvent.get(eventId);
    if (known && known.expiresAtMs > this.now()) return known.body;
    // Requests that arrive while it renders share the one render (and its failure).
    const body = this.render(eventId);
    this.byEvent.set(eventId, { body, expiresAtMs: this.now() + this.ttlMs });
    body.then(
      (rendered) => {
        // Unknown events are not remembered: the map would grow with every id someone tries.
        if (rendered === undefined) this.byEvent.delete(eventId);
      },
      () => this.byEvent.delete(eventId),
    );
    return body;
  }

  private async render(eventId: string): Promise<string | undefined> {
    const seats = await this.catalog.seatMap(eventId);
    if (!seats) return undefined;
    const [holders, sold] = await Promise.all([
      this.holds.holders(
        eventId,
        seats.map((s) => s.seatId),
      ),
      this.holds.sold(eventId),
    ]);
    return JSON.stringify({
      eventId,
      seats: seats.map((s, i) => ({
        ...s,
        status: sold.has(s.seatId) ? 'sold' : holders[i] ? 'held' : 'available',
      })),
    });
  }
}
