import { defineScenario, type ScenarioInput } from '../../harness/scenario/schema.ts';

/**
 * The shape shared by the failover rehearsals: 1,000 users queue before sales open at 19:33,
 * are admitted at the design's 50/s, and 40 % of them buy over the next minutes while keeping their Socket.IO connection
 * — so the fault at 19:36 lands on queued, admitted and paying users alike. Each rehearsal adds
 * its fault and the bounds the design promises for it.
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
    startAt: '19:30',
    endAt: '19:50',
    // Sentinel and PostgreSQL run on wall time: at 10× their failover takes about the design's
    // seconds in simulated time; at 30× Sentinel's own floors would stretch it past the design.
    timeScale: 10,
    event: { seats: 1_200, salesOpenAt: '19:33' },
    users: 1_000,
    arrivals: [
      { at: '19:30', joined: 0 },
      { at: '19:32', joined: 1_000 },
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
      { expect: 'instances', at: '19:49', min: 2 },
    ],
  });
}
