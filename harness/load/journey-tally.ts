/** A load worker's counters, fed by its users' journeys and emptied into each report. */

import { JOURNEY_COUNTERS, type ReconnectObservation, type WorkerReport, zeroCounters } from './protocol.ts';
import type { JourneyEvents, NoticeOutcome } from './user-journey.ts';

/** The report fields a tally fills: deltas since the last report, and gauges. */
export type TallyReport = Pick<
  WorkerReport,
  | 'joined'
  | 'settled'
  | 'admitted'
  | 'seatsHeld'
  | 'reservations'
  | 'socketDisconnects'
  | 'noticesDelivered'
  | 'noticesRescuedByApp'
  | 'noticesRescuedByPoll'
  | 'noticesLost'
  | 'confirmedReservationIds'
  | 'socketsConnected'
  | 'unsettled'
  | 'usersAway'
  | 'reconnects'
>;

const NOTICE_COUNTERS = {
  delivered: 'noticesDelivered',
  rescuedByApp: 'noticesRescuedByApp',
  rescuedByPoll: 'noticesRescuedByPoll',
  lost: 'noticesLost',
} as const satisfies Record<NoticeOutcome, keyof TallyReport>;

export class JourneyTally implements JourneyEvents {
  private readonly delta = zeroCounters();
  private confirmed: string[] = [];
  private reconnects: ReconnectObservation[] = [];
  private socketsConnected = 0;
  /** Users whose socket dropped, not back yet: each drop ends in one `reconnect`. */
  private usersAway = 0;
  /** Users arrived whose join (and first socket connect) is not answered yet. */
  private unsettled = 0;
  private readonly taken = new Set<string>();
  /**
   * Per seat list, where the search for an untaken seat resumes: a seat once taken stays taken
   * here, so the seats before it are never looked at again. Scanning from the start cost each
   * buyer admitted after the sell-out 5,000 lookups: a third of a load worker's CPU then.
   */
  private readonly untakenFrom = new WeakMap<readonly string[], number>();

  arrived(users: number): void {
    this.unsettled += users;
  }

  joined(): void {
    this.delta.joined++;
  }
  settled(): void {
    this.delta.settled++;
    this.unsettled--;
  }
  admitted(): void {
    this.delta.admitted++;
  }
  admissionNotice(outcome: NoticeOutcome): void {
    this.delta[NOTICE_COUNTERS[outcome]]++;
  }
  seatHeld(): void {
    this.delta.seatsHeld++;
  }
  reserved(): void {
    this.delta.reservations++;
  }
  paymentConfirmed(reservationId: string): void {
    this.confirmed.push(reservationId);
  }
  socketConnected(): void {
    this.socketsConnected++;
  }
  socketDisconnected(): void {
    this.socketsConnected--;
    this.delta.socketDisconnects++;
  }
  wentAway(): void {
    this.usersAway++;
  }
  reconnect(observation: ReconnectObservation): void {
    this.usersAway--;
    this.reconnects.push(observation);
  }
  seatsTaken(seatIds: string[]): void {
    for (const id of seatIds) this.taken.add(id);
  }
  isTaken(seatId: string): boolean {
    return this.taken.has(seatId);
  }
  firstUntaken(seatIds: readonly string[]): string | undefined {
    let i = this.untakenFrom.get(seatIds) ?? 0;
    while (i < seatIds.length && this.taken.has(seatIds[i]!)) i++;
    this.untakenFrom.set(seatIds, i);
    return seatIds[i];
  }

  /** The deltas since the last call (then zeroed) and the gauges now. */
  take(): TallyReport {
    const out: TallyReport = {
      ...this.delta,
      confirmedReservationIds: this.confirmed,
      socketsConnected: this.socketsConnected,
      unsettled: this.unsettled,
      usersAway: this.usersAway,
      reconnects: this.reconnects,
    };
    for (const key of JOURNEY_COUNTERS) this.delta[key] = 0;
    this.confirmed = [];
    this.reconnects = [];
    return out;
  }
}
