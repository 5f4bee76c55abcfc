/**
 * Redis key names, as ARCHITECTURE.md lists them, with one change for ElastiCache in cluster mode:
 * every key of one event carries the hash tag `{<eventId>}`, so Redis Cluster hashes only the
 * event id and all of them land in one slot. The Lua scripts and MULTI blocks that touch several
 * keys of an event together (join, admit, hold, sell) would otherwise fail with CROSSSLOT.
 *
 * Keys that are not per event (`active-events`, the lease, sessions, the event list) stand alone
 * and are never used in one command with another key.
 */
const tag = (eventId: string) => `{${eventId}}`;

export const keys = {
  queue: (eventId: string) => `queue:${tag(eventId)}`,
  /** Admitted users (a set: the queue monitor reads SCARD). */
  active: (eventId: string) => `active:${tag(eventId)}`,
  /** Admitted users by the end of their shopping window (epoch ms). */
  activeUntil: (eventId: string) => `active-until:${tag(eventId)}`,
  /**
   * The admission log: one stream entry per admitted batch, written by the ADMIT script with the
   * admission itself. Instances catch up from it, so a lost pub/sub notice loses nothing.
   */
  admissions: (eventId: string) => `admissions:${tag(eventId)}`,
  /** Events with a live queue. In a slot of its own: never in a script with an event's keys. */
  activeEvents: 'active-events',
  salesOpen: (eventId: string) => `sales-open:${tag(eventId)}`,
  /** One signed-in session (a user may have several: devices, tabs); revoked alone at logout. */
  session: (userId: string, sessionId: string) => `session:${userId}:${sessionId}`,
  /** Users who bought in this event's drop: they do not queue again. */
  purchased: (eventId: string) => `purchased:${tag(eventId)}`,
  seatLock: (eventId: string, seatId: string) => `seat:${tag(eventId)}:${seatId}:locked`,
  /** Seats a user holds, for restoring state on reconnect. */
  userHolds: (eventId: string, userId: string) => `holds:${tag(eventId)}:${userId}`,
  sold: (eventId: string) => `sold:${tag(eventId)}`,
  eventList: 'events:list',
  event: (eventId: string) => `event:${tag(eventId)}`,
  admissionLease: 'admission:lease',
} as const;
