import { describe, expect, it } from 'vitest';
import type { SessionState } from '../../app/realtime/realtime.ts';
import { type KnownState, stateLost } from './user-journey.ts';

describe('what a reconnect did not restore', () => {
  const readAt = Date.now();
  const state: SessionState = {
    instanceId: 'app-2',
    eventId: 'drop',
    state: 'admitted',
    queueSize: 0,
    admittedUntil: readAt + 60_000,
    heldSeatIds: ['A-1'],
    sentAt: readAt,
  };
  const known = (heldAtB: number): KnownState => ({
    admittedUntil: readAt + 60_000,
    held: new Map([
      ['A-1', readAt + 30_000],
      ['A-2', readAt + 30_000],
    ]),
    heldAt: new Map([
      ['A-1', readAt - 5_000],
      ['A-2', heldAtB],
    ]),
  });

  it('names a hold the user learnt of before the state was read and the state lacks', () => {
    expect(stateLost(known(readAt - 1_000), state)).toMatch(
      /^1 hold\(s\) lost \(A-2, \d+ s left; state admitted\)$/,
    );
  });

  it('does not count a hold answered after the state was read (the HTTP answer and the socket race)', () => {
    expect(stateLost(known(readAt + 10), state)).toBeUndefined();
  });

  it('says when the admission window changed', () => {
    expect(stateLost({ ...known(readAt - 1_000), admittedUntil: readAt + 1 }, state)).toMatch(
      /admission window changed/,
    );
  });
});
