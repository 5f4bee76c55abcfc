/** Redis key names, as ARCHITECTURE.md lists them. */
export const keys = {
  queue: (eventId: string) => `queue:${eventId}`,
  /** Admitted users (a set: the queue monitor reads SCARD). */
  active: (eventId: string) => `active:${eventId}`,
  /** Admitted users by the end of their shopping window (epoch ms). */
  activeUntil: (eventId: string) => `active-until:${eventId}`,
  activeEvents: 'active-events',
  salesOpen: (eventId: string) => `sales-open:${eventId}`,
  session: (userId: string) => `session:${userId}`,
  seatLock: (eventId: string, seatId: string) => `seat:${eventId}:${seatId}:locked`,
  /** Seats a user holds, for restoring state on reconnect. */
  userHolds: (eventId: string, userId: string) => `holds:${eventId}:${userId}`,
  sold: (eventId: string) => `sold:${eventId}`,
  eventList: 'events:list',
  event: (eventId: string) => `event:${eventId}`,
  admissionLease: 'admission:lease',
} as const;
