import { defineScenario } from '../harness/scenario/schema.ts';
import { designTopology } from '../infra/topology.ts';

/**
 * A drop under attack (issue #17): one user in ten is a bot that sends malformed Socket.IO frames,
 * floods subscriptions, guesses a password, holds more seats than allowed and opens reservation
 * after reservation. The limits hold, and the fans still get in and buy.
 */
export default defineScenario({
  name: 'bot-storm',
  description:
    'A small drop where a tenth of the users attack: every instance keeps serving, no user gets more than the limit, and the honest users are admitted and buy.',
  startAt: '19:30',
  endAt: '19:45',
  timeScale: 30,
  event: { seats: 500, salesOpenAt: '19:32' },
  users: 300,
  arrivals: [
    { at: '19:30', joined: 0 },
    { at: '19:32', joined: 300 },
  ],
  behaviour: {
    socket: true,
    buyShare: 0.5,
    seatsPerOrder: 2,
    thinkTime: { minSeconds: 10, maxSeconds: 60 },
    hostile: { share: 0.1, attemptsPerAttack: 20 },
  },
  expectations: [
    { expect: 'no-instance-lost' },
    { expect: 'instances', at: '19:44', min: 2, max: 2 },
    { expect: 'max-seats-per-user', max: designTopology.limits.seatsPerUserPerEvent },
    { expect: 'no-seat-sold-twice' },
    { expect: 'no-confirmed-reservation-lost' },
    // Half of the 270 honest users buy; a few lose every seat they pick to someone faster.
    { expect: 'purchases', atLeast: 100 },
    { expect: 'error-rate', below: 0.01 },
    { expect: 'latency', endpoint: 'POST /api/events/:eventId/queue', percentile: 95, belowMs: 2_000 },
    { expect: 'latency', endpoint: 'POST /api/reservations/:id/payments', percentile: 95, belowMs: 2_000 },
  ],
});
