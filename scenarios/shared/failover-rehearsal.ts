import { defineScenario, type ScenarioInput } from '../../harness/scenario/schema.ts';

/**
 * The shape shared by the failover rehearsals: 1,000 users queue from 19:33, sales open at 19:34,
 * they are admitted at the design's 50/s, and 40 % of them buy over the next minutes while keeping
 * their Socket.IO connection — so the fault at 19:36 lands on admitted and paying users alike.
 * Each rehearsal adds its fault and the bounds the design promises for it. Short on purpose (a
 * replacement instance boots in 4 minutes, so 19:44 sees the group whole again): a phase sweep
 * runs it six times.
 */
export function failoverRehearsal(options: {
  name: string;
  description: string;
  faults: NonNullable<ScenarioInput['faults']>;
  /** Every user disconnected by the fault is back within this, simulated seconds. */
  reconnectWithinSeconds: number;
  /** No client goes longer without a successful request, simulated seconds. */
  maxGapSeconds: number;
  /** Share of requests that may fail during the rehearsal (the failure's error budget). */
  errorBudget: number;
}) {
  return defineScenario({
    name: options.name,
    description: options.description,
    startAt: '19:33',
    endAt: '19:44',
    // The clock slows to 10× from just before the fault while a recovery that runs on wall time
    // (Sentinel, PostgreSQL) is in progress (harness/faults/speed.ts); 60× elsewhere, where
    // every time that matters (health checks, boots, clients' backoff) is simulated.
    timeScale: 60,
    event: { seats: 1_200, salesOpenAt: '19:34' },
    users: 1_000,
    arrivals: [
      { at: '19:33', joined: 0 },
      { at: '19:34', joined: 1_000 },
    ],
    behaviour: {
      socket: true,
      buyShare: 0.4,
      seatsPerOrder: 2,
      thinkTime: { minSeconds: 20, maxSeconds: 180 },
      stayConnectedAfterPurchase: true,
    },
    faults: options.faults,
    expectations: [
      { expect: 'reconnect', withinSeconds: options.reconnectWithinSeconds, keepsState: true },
      { expect: 'no-confirmed-reservation-lost' },
      { expect: 'no-seat-sold-twice' },
      { expect: 'max-request-gap', belowSeconds: options.maxGapSeconds },
      { expect: 'error-rate', below: options.errorBudget },
      // The group is back to its minimum, in service, by the end.
      { expect: 'instances', at: '19:43', min: 2 },
    ],
  });
}
