import { defineScenario } from '../harness/scenario/schema.ts';

/**
 * Scale-in under connected users: four instances, a queue that never reaches 1,000, so the
 * scale-in alarm (two 5-minute periods under 1,000) takes one instance away, then another after
 * the 600 s cooldown. Each leaves through draining: no new connections, existing WebSockets kept
 * for the deregistration delay, then closed; their users reconnect elsewhere with their state.
 */
export default defineScenario({
  name: 'scale-in-drain',
  description:
    'Scale-in drains an instance for the deregistration delay; its users move to the others without losing their place or holds.',
  startAt: '19:30',
  endAt: '20:05',
  timeScale: 20,
  topology: { autoScalingGroup: { desiredCapacity: 4 } },
  event: { seats: 1_000, salesOpenAt: '19:33' },
  users: 800,
  arrivals: [
    { at: '19:30', joined: 0 },
    { at: '19:32', joined: 800 },
  ],
  behaviour: {
    socket: true,
    buyShare: 0.3,
    seatsPerOrder: 1,
    thinkTime: { minSeconds: 30, maxSeconds: 600 },
    stayConnectedAfterPurchase: true,
  },
  expectations: [
    {
      expect: 'alarm-state',
      alarm: 'tiketi-queue-scale-in',
      state: 'ALARM',
      within: { from: '19:36', to: '19:45' },
    },
    // One instance per 600 s cooldown after the first (AWS simple scaling), never below the minimum.
    { expect: 'instances', at: '20:04', max: 3, min: 2 },
    { expect: 'reconnect', withinSeconds: 60, keepsState: true },
    { expect: 'error-rate', below: 0.01 },
    { expect: 'no-seat-sold-twice' },
    { expect: 'no-confirmed-reservation-lost' },
  ],
});
