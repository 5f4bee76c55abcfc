import { defineScenario } from '../harness/scenario/schema.ts';

/** The whole path — queue, admission over Socket.IO, hold, reserve, pay — in well under a minute. */
export default defineScenario({
  name: 'smoke',
  description:
    'The whole path for 200 users in under a minute of wall time: a CI check that everything is wired.',
  startAt: '19:30',
  endAt: '19:45',
  timeScale: 30,
  event: { seats: 500, salesOpenAt: '19:32' },
  users: 200,
  arrivals: [
    { at: '19:30', joined: 0 },
    { at: '19:32', joined: 200 },
  ],
  behaviour: { socket: true, buyShare: 0.5, seatsPerOrder: 2, thinkTime: { minSeconds: 10, maxSeconds: 60 } },
  expectations: [
    { expect: 'instances', at: '19:44', min: 2, max: 2 },
    { expect: 'latency', endpoint: 'all', percentile: 95, belowMs: 2_000 },
    { expect: 'error-rate', below: 0.01 },
    { expect: 'no-seat-sold-twice' },
    { expect: 'no-confirmed-reservation-lost' },
  ],
});
