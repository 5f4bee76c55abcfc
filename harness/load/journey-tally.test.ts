import { describe, expect, it } from 'vitest';
import { JourneyTally } from './journey-tally.ts';

describe('a load worker tally', () => {
  it('reports deltas once and keeps its gauges', () => {
    const tally = new JourneyTally();
    tally.arrived(3);
    tally.joined();
    tally.settled();
    tally.socketConnected();
    tally.socketConnected();
    tally.socketDisconnected();
    tally.wentAway();
    tally.wentAway();
    tally.paymentConfirmed('r-1');
    tally.reconnect({ userId: 'u', disconnectedAtWallMs: 1, reason: 'transport close' });
    tally.admissionNotice('delivered');
    tally.admissionNotice('delivered');
    tally.admissionNotice('rescuedByApp');
    tally.admissionNotice('lost');
    expect(tally.take()).toEqual({
      joined: 1,
      settled: 1,
      admitted: 0,
      seatsHeld: 0,
      reservations: 0,
      socketDisconnects: 1,
      noticesDelivered: 2,
      noticesRescuedByApp: 1,
      noticesRescuedByPoll: 0,
      noticesLost: 1,
      confirmedReservationIds: ['r-1'],
      socketsConnected: 1,
      unsettled: 2,
      usersAway: 1,
      reconnects: [{ userId: 'u', disconnectedAtWallMs: 1, reason: 'transport close' }],
    });
    const next = tally.take();
    expect(next).toMatchObject({
      joined: 0,
      settled: 0,
      socketDisconnects: 0,
      noticesDelivered: 0,
      noticesLost: 0,
      socketsConnected: 1,
      unsettled: 2,
      usersAway: 1,
    });
    expect(next.confirmedReservationIds).toEqual([]);
    expect(next.reconnects).toEqual([]);
  });

  it('remembers the seats it learned are taken', () => {
    const tally = new JourneyTally();
    tally.seatsTaken(['A-1', 'A-2']);
    expect(tally.isTaken('A-2')).toBe(true);
    expect(tally.isTaken('A-3')).toBe(false);
  });

  it('finds the first untaken seat of a list, and none once all are taken', () => {
    const tally = new JourneyTally();
    const seats = ['A-1', 'A-2', 'A-3', 'A-4'];
    expect(tally.firstUntaken(seats)).toBe('A-1');
    tally.seatsTaken(['A-1', 'A-3']);
    expect(tally.firstUntaken(seats)).toBe('A-2');
    tally.seatsTaken(['A-2']);
    expect(tally.firstUntaken(seats)).toBe('A-4');
    // Another list is searched from its own start.
    expect(tally.firstUntaken(['A-3', 'B-1'])).toBe('B-1');
    tally.seatsTaken(['A-4']);
    expect(tally.firstUntaken(seats)).toBeUndefined();
  });
});
