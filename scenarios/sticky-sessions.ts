import { defineScenario } from '../harness/scenario/schema.ts';

/**
 * AWSALB stickiness while instances come and go: 1,000 users wait in the queue polling their
 * place every 10 s over HTTP and holding a Socket.IO connection, while a third instance joins
 * (desired 3), one is terminated gracefully and another crashes. A user changes instance only
 * when its own goes away, and then keeps its place.
 */
export default defineScenario({
  name: 'sticky-sessions',
  description:
    'Users keep their instance (AWSALB) across requests and Socket.IO reconnects while instances come and go.',
  startAt: '19:30',
  endAt: '19:55',
  timeScale: 10,
  topology: { autoScalingGroup: { desiredCapacity: 3 } },
  event: { seats: 1_000, salesOpenAt: '19:52' },
  users: 1_000,
  arrivals: [
    { at: '19:30', joined: 0 },
    { at: '19:33', joined: 1_000 },
  ],
  behaviour: {
    socket: true,
    buyShare: 0,
    pollQueueEverySeconds: 10,
    stayConnectedAfterPurchase: true,
  },
  faults: [
    { at: '19:38', fault: 'terminate-instance', instance: 'random' },
    { at: '19:44', fault: 'kill-instance', instance: 'random' },
  ],
  expectations: [
    // Two of three instances go away: about two thirds of users move once, out of ~100 polls each.
    { expect: 'sticky', atLeast: 0.98 },
    { expect: 'reconnect', withinSeconds: 120, keepsState: true },
    { expect: 'error-rate', below: 0.05 },
    { expect: 'instances', at: '19:54', min: 3 },
  ],
});
